import net from "node:net";
import fc from "fast-check";
import t from "tap";
import { CidrSet, isValidCidr, normalizeAddress, ParsedAddress } from "../../src/net/cidr.ts";

/** What `parse` made of `text`: undefined when not an address. */
function parsed(text: string): { family: 4 | 6; v4: number; v6: number[] } | undefined {
  const address = new ParsedAddress();
  if (!address.parse(text)) return undefined;
  return { family: address.family as 4 | 6, v4: address.v4, v6: [...address.v6] };
}

const v6 = (...words: number[]) => ({ family: 6, v6: words });
const v4 = (a: number, b: number, c: number, d: number) => ({
  family: 4,
  v4: ((a << 24) | (b << 16) | (c << 8) | d) >>> 0,
});

t.test("IPv4 addresses", async (t) => {
  t.match(parsed("1.2.3.4"), v4(1, 2, 3, 4));
  t.match(parsed("0.0.0.0"), v4(0, 0, 0, 0));
  t.match(parsed("255.255.255.255"), v4(255, 255, 255, 255));
  t.match(parsed("10.0.0.1"), v4(10, 0, 0, 1));
  const invalid = [
    ["01.2.3.4", "leading zero"],
    ["1.2.3.04", "leading zero, last octet"],
    ["00.1.1.1", "double zero"],
    ["256.1.1.1", "octet > 255"],
    ["1.2.3.1000", "four digits"],
    ["1.2.3", "too few octets"],
    ["1.2.3.4.5", "too many octets"],
    ["1..3.4", "empty octet"],
    [".1.2.3.4", "leading dot"],
    ["1.2.3.4.", "trailing dot"],
    ["", "empty"],
    [" 1.2.3.4", "leading space"],
    ["1.2.3.4 ", "trailing space"],
    ["1.2.3.a", "a letter"],
    ["1.2.3.-4", "a sign"],
    ["16909060", "a bare number"],
  ];
  for (const [text, why] of invalid) t.equal(parsed(text as string), undefined, `${text}: ${why}`);
});

t.test("IPv6 addresses", async (t) => {
  t.match(parsed("::"), v6(0, 0, 0, 0));
  t.match(parsed("::1"), v6(0, 0, 0, 1));
  t.match(parsed("1::"), v6(0x10000, 0, 0, 0));
  t.match(parsed("2001:0db8:0000:0000:0000:0000:0000:0001"), v6(0x20010db8, 0, 0, 1));
  t.match(parsed("2001:DB8::Ab:1"), v6(0x20010db8, 0, 0, 0xab0001));
  t.match(parsed("1:2:3:4:5:6:7:8"), v6(0x10002, 0x30004, 0x50006, 0x70008));
  t.match(parsed("1:2:3:4:5:6:7::"), v6(0x10002, 0x30004, 0x50006, 0x70000));
  t.match(parsed("::2:3:4:5:6:7:8"), v6(0x2, 0x30004, 0x50006, 0x70008));
  t.match(parsed("64:ff9b::1.2.3.4"), v6(0x64ff9b, 0, 0, 0x01020304), "embedded IPv4");
  t.match(parsed("1:2:3:4:5:6:1.2.3.4"), v6(0x10002, 0x30004, 0x50006, 0x01020304));
  t.match(parsed("fe80::1%eth0"), v6(0xfe800000, 0, 0, 1), "zone id");
  t.match(parsed("::ffff:1.2.3.4"), v4(1, 2, 3, 4), "IPv4-mapped counts as IPv4");
  t.match(parsed("::FFFF:1.2.3.4"), v4(1, 2, 3, 4));
  t.match(parsed("::ffff:102:304"), v4(1, 2, 3, 4), "mapped, in hex");
  const invalid = [
    ["1:2:3:4:5:6:7:8:9", "too many groups"],
    ["1:2:3:4:5:6:7:8::", "eight groups and ::"],
    ["1:2:3:4:5:6:7", "too few groups"],
    ["1::2::3", "two ::"],
    [":::", "three colons"],
    [":1::", "leading single colon"],
    ["1:", "trailing single colon"],
    ["12345::", "five hex digits"],
    ["g::", "not hex"],
    ["1:2:3:4:5:6:7:1.2.3.4", "embedded IPv4 after seven groups"],
    ["::ffff:01.2.3.4", "embedded IPv4 with a leading zero"],
    ["::ffff:1.2.3", "short embedded IPv4"],
    ["::1.2.3.4:1", "a group after embedded IPv4"],
    ["[::1]", "brackets"],
    ["fe80::1%", "empty zone id"],
  ];
  for (const [text, why] of invalid) {
    t.equal(parsed(text as string), undefined, `${text}: ${why}`);
    t.equal(net.isIP(text as string), 0, `${text}: Node agrees`);
  }
});

t.test("isValidCidr", async (t) => {
  const valid = ["10.0.0.0/8", "0.0.0.0/0", "10.1.2.3/32", "10.1.2.3", "10.1.2.3/8"];
  valid.push("::/0", "::1/128", "2001:db8::/32", "::1", "::ffff:10.0.0.0/104", "::ffff:0:0/96");
  for (const text of valid) t.ok(isValidCidr(text), text);
  const invalid = ["10.0.0.0/33", "2001:db8::/129", "::ffff:10.0.0.0/129", "10.0.0.0/x"];
  invalid.push("10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0.0/8.0", "10.0.0.0/ 8");
  invalid.push("10.0.0.0/8/8", "/8", "", "10.0.0/8", "fe80::1%eth0/64", "fe80::1%eth0", "x/8");
  for (const text of invalid) t.notOk(isValidCidr(text), text);
  t.throws(() => new CidrSet(["10.0.0.0/33"]), /invalid CIDR "10.0.0.0\/33"/);
});

t.test("CidrSet.contains", async (t) => {
  const set = new CidrSet(["10.0.0.0/8", "192.0.2.7", "198.51.100.5/31", "2001:db8::/32", "::1"]);
  const has = (text: string) => set.containsText(text);
  const rows: [string, boolean][] = [
    ["10.0.0.0", true],
    ["10.255.255.255", true],
    ["11.0.0.0", false],
    ["9.255.255.255", false],
    ["192.0.2.7", true],
    ["192.0.2.6", false],
    ["198.51.100.4", true],
    ["198.51.100.5", true],
    ["198.51.100.6", false],
    ["::ffff:10.1.2.3", true],
    ["::ffff:11.1.2.3", false],
    ["2001:db8::", true],
    ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true],
    ["2001:db9::", false],
    ["2001:db7:ffff::", false],
    ["::1", true],
    ["::2", false],
    ["::a00:1", false],
    ["", false],
    ["nonsense", false],
  ];
  for (const [text, expected] of rows) t.equal(has(text), expected, text);
  const everyV4 = new CidrSet(["0.0.0.0/0"]);
  t.ok(everyV4.containsText("255.1.2.3"));
  t.notOk(everyV4.containsText("::1"), "an IPv4 block holds no IPv6 address");
  const mapped = new CidrSet(["::ffff:10.0.0.0/104"]);
  t.ok(mapped.containsText("10.9.9.9"), "a mapped block holds IPv4 addresses");
  t.notOk(mapped.containsText("11.0.0.0"));
  t.notOk(new CidrSet([]).containsText("10.0.0.1"), "an empty set holds nothing");
});

t.test("normalizeAddress", async (t) => {
  t.equal(normalizeAddress("::ffff:10.1.2.3"), "10.1.2.3");
  t.equal(normalizeAddress("::FFFF:10.1.2.3"), "10.1.2.3");
  t.equal(normalizeAddress("10.1.2.3"), "10.1.2.3");
  t.equal(normalizeAddress("2001:db8::1"), "2001:db8::1");
  t.equal(normalizeAddress("::ffff:102:304"), "::ffff:102:304", "hex form is left as written");
});

const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const hex = (words: number[]) =>
  words.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]).join(":");
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** An address near `network`: the same top bits often, so both answers occur. */
const nearby = (network: number, prefix: number, noise: number, flip: boolean) =>
  flip ? noise : (network ^ (prefix === 32 ? 0 : noise >>> prefix)) >>> 0;

t.test("IPv4 containment agrees with net.BlockList", async (t) => {
  fc.assert(
    fc.property(
      u32,
      fc.integer({ min: 0, max: 32 }),
      u32,
      fc.boolean(),
      (net4, prefix, n, flip) => {
        const address = dotted(nearby(net4, prefix, n, flip));
        const list = new net.BlockList();
        list.addSubnet(dotted(net4), prefix, "ipv4");
        const ours = new CidrSet([`${dotted(net4)}/${prefix}`]);
        return ours.containsText(address) === list.check(address, "ipv4");
      },
    ),
    { seed: 20261101, numRuns: 2000 },
  );
  t.pass("2000 blocks and addresses");
});

t.test("IPv6 containment agrees with net.BlockList", async (t) => {
  const words = fc.array(u32, { minLength: 4, maxLength: 4 });
  fc.assert(
    fc.property(words, fc.integer({ min: 0, max: 128 }), words, (block, prefix, address) => {
      // Keep the first word of the block off ::ffff:0:0/96, which we treat as IPv4.
      block[0] = (block[0] as number) | 0x20000000;
      const near = address.map((w, i) => (i * 32 + 32 <= prefix ? (block[i] as number) : w));
      const list = new net.BlockList();
      list.addSubnet(hex(block), prefix, "ipv6");
      const ours = new CidrSet([`${hex(block)}/${prefix}`]);
      return ours.containsText(hex(near)) === list.check(hex(near), "ipv6");
    }),
    { seed: 20261102, numRuns: 2000 },
  );
  t.pass("2000 blocks and addresses");
});

t.test("parse agrees with Node on generated IPv6 text", async (t) => {
  const group = fc.integer({ min: 0, max: 0xffff }).map((g) => g.toString(16));
  fc.assert(
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
      const text = groups.join(":");
      const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
      const a = parsed(text);
      const b = parsed(canonical);
      return a !== undefined && b !== undefined && a.v6.join() === b.v6.join();
    }),
    { seed: 20261103, numRuns: 1000 },
  );
  t.pass("full and compressed forms parse alike");
});
