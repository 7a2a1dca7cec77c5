import t from "tap";
import { CidrSet } from "../../src/net/cidr.ts";
import { clientAddress, hostOf } from "../../src/routing/facts.ts";
import {
  cookieValue,
  decodeQueryComponent,
  headerValue,
  queryValue,
} from "../../src/routing/lookup.ts";
import type { Tap } from "./helpers.ts";

/** Checks `fn` over [input, expected] rows. */
function check<I, O>(t: Tap, fn: (input: I) => O, rows: [I, O][]) {
  for (const [input, expected] of rows) t.same(fn(input), expected, JSON.stringify(input));
}

t.test("cookieValue", async (t) => {
  const uid = (header: string | undefined) => cookieValue(header, "uid");
  check<string | undefined, string | undefined>(t, uid, [
    [undefined, undefined],
    ["", undefined],
    ["uid=abc", "abc"],
    ["a=1; uid=abc; b=2", "abc"],
    ["a=1;uid=abc", "abc"],
    ["  uid=abc  ", "abc"],
    ["a=1;\tuid=abc\t;b=2", "abc"],
    ['uid="abc"', "abc"],
    ['uid=""', ""],
    ['uid="', '"'],
    ['uid="a"b', '"a"b'],
    ["uid=", ""],
    ["uid", undefined],
    ["uid;x=1", undefined],
    ["uid=a=b", "a=b"],
    ["uidx=1; uid=2", "2"],
    ["xuid=1", undefined],
    ["UID=1", undefined],
    ["uid=1; uid=2", "1"],
    ["a=1;;uid=2;", "2"],
  ]);
});

t.test("queryValue", async (t) => {
  const q = (query: string) => queryValue(query, "q");
  check<string, string | undefined>(t, q, [
    ["", undefined],
    ["q=1", "1"],
    ["q=1&q=2", "1"],
    ["a=1&q=2", "2"],
    ["qq=1&q=2", "2"],
    ["aq=1", undefined],
    ["q", ""],
    ["q=", ""],
    ["q&r=1", ""],
    ["&&q=x&&", "x"],
    ["q=a=b", "a=b"],
    ["q=a+b", "a b"],
    ["q=%41%2B", "A+"],
    ["q=%e2%82%ac", "€"],
    ["%71=1", "1"],
    ["Q=1", undefined],
  ]);
  t.equal(queryValue("a+b=1", "a b"), "1", "names are decoded too");
  t.equal(queryValue("a%20b=1", "a b"), "1");
});

t.test("decodeQueryComponent", async (t) => {
  check<string, string>(t, decodeQueryComponent, [
    ["", ""],
    ["plain", "plain"],
    ["a+b", "a b"],
    ["a%2Bb", "a+b"],
    ["%E5%90%89", "吉"],
    ["100%", "100%"],
    ["%zz", "%zz"],
    ["%4", "%4"],
  ]);
});

t.test("decodeQueryComponent: a malformed escape leaves the valid ones decoded", async (t) => {
  // "malformed escapes stay as written" — and only they: as URLSearchParams does.
  for (const text of ["%41%zz", "100%+off%21", "%%41"]) {
    const expected = new URLSearchParams(`k=${text}`).get("k");
    t.equal(decodeQueryComponent(text), expected, text);
  }
});

t.test("headerValue", async (t) => {
  const headers = Object.assign(Object.create(null), {
    "x-a": "1",
    "x-empty": "",
    "set-cookie": ["a=1", "b=2"],
    "x-undef": undefined,
  });
  t.equal(headerValue(headers, "x-a"), "1");
  t.equal(headerValue(headers, "x-empty"), "");
  t.equal(headerValue(headers, "set-cookie"), "a=1, b=2", "a list is joined");
  t.equal(headerValue(headers, "x-undef"), undefined);
  t.equal(headerValue(headers, "x-missing"), undefined);
  t.equal(headerValue(headers, "X-A"), undefined, "names are given in lower case");
  t.equal(headerValue({}, "constructor"), undefined, "inherited properties are not headers");
  t.equal(headerValue({}, "__proto__"), undefined);
});

t.test("hostOf", async (t) => {
  check<string | undefined, string>(t, hostOf, [
    [undefined, ""],
    ["", ""],
    ["api.example.com", "api.example.com"],
    ["api.example.com:8080", "api.example.com"],
    ["API.Example.COM", "api.example.com"],
    ["API.Example.COM:443", "api.example.com"],
    ["[::1]:8080", "[::1]"],
    ["[2001:DB8::1]", "[2001:db8::1]"],
    ["10.0.0.1:80", "10.0.0.1"],
    ["a.com:", "a.com"],
  ]);
});

t.test("clientAddress", async (t) => {
  const trusted = new CidrSet(["10.0.0.0/8", "::1"]);
  const resolve = (peer: string, xff?: string) => clientAddress(peer, xff, trusted);
  t.same(resolve("203.0.113.9", "1.2.3.4"), { address: "203.0.113.9", trustedPeer: false });
  t.same(resolve("::ffff:203.0.113.9"), { address: "203.0.113.9", trustedPeer: false });
  t.same(resolve("10.0.0.1"), { address: "10.0.0.1", trustedPeer: true }, "no XFF");
  t.same(resolve("10.0.0.1", ""), { address: "10.0.0.1", trustedPeer: true }, "empty XFF");
  const via = (peer: string, xff: string) => resolve(peer, xff).address;
  t.equal(via("10.0.0.1", "1.2.3.4"), "1.2.3.4");
  t.equal(via("10.0.0.1", "9.9.9.9, 1.2.3.4, 10.0.0.2"), "1.2.3.4", "rightmost untrusted");
  t.equal(via("::1", "9.9.9.9, 1.2.3.4"), "1.2.3.4", "IPv6 trusted peer");
  t.equal(via("::ffff:10.0.0.1", "1.2.3.4"), "1.2.3.4", "IPv4-mapped trusted peer");
  t.equal(via("10.0.0.1", "10.0.0.3, 10.0.0.2"), "10.0.0.3", "all trusted: the leftmost");
  t.equal(via("10.0.0.1", "  1.2.3.4 ,, 10.0.0.2 , "), "1.2.3.4", "spaces and empty entries");
  t.equal(via("10.0.0.1", " , ,"), "10.0.0.1", "only empty entries: the peer");
  t.equal(via("10.0.0.1", "5.5.5.5, ::ffff:10.0.0.9"), "5.5.5.5", "mapped entries are trusted");
  t.equal(via("10.0.0.1", "::ffff:5.5.5.5"), "5.5.5.5", "mapped entries are normalised");
  t.equal(via("10.0.0.1", "2001:db8::1"), "2001:db8::1");
});
