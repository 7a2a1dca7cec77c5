/**
 * IP addresses and CIDR blocks as numbers, so that a request's address is
 * parsed once and each block test is a few integer compares.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count as IPv4, as Node reports
 * IPv4 peers on dual-stack sockets that way.
 */

/** A parsed address; `family` 0 means "not an address". Reused, never shared across calls. */
export class ParsedAddress {
  family: 0 | 4 | 6 = 0;
  v4 = 0;
  readonly v6 = new Uint32Array(4);

  /** Parses `text` into this object; returns whether it is an address. */
  parse(text: string): boolean {
    this.family = 0;
    const v4 = parseIPv4(text, 0, text.length);
    if (v4 >= 0) {
      this.v4 = v4;
      this.family = 4;
      return true;
    }
    if (text.indexOf(":") === -1 || !parseIPv6(text, this.v6)) return false;
    const w = this.v6;
    if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
      this.v4 = w[3] as number;
      this.family = 4;
    } else {
      this.family = 6;
    }
    return true;
  }
}

/** Dotted-quad IPv4 in text[start, end) → uint32, or -1. */
function parseIPv4(text: string, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero: ambiguous (octal?)
      octet = octet * 10 + (c - 48);
      if (octet > 255 || ++digits > 3) return -1;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

/** IPv6 text (with "::", an embedded IPv4 tail, a zone) → four big-endian words. */
function parseIPv6(text: string, out: Uint32Array): boolean {
  let end = text.indexOf("%");
  if (end === -1) end = text.length;
  else if (end === text.length - 1) return false; // an empty zone
  const groups: number[] = [];
  let gap = -1;
  let i = 0;
  if (text.startsWith("::")) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let j = i;
    let value = 0;
    while (j < end) {
      const c = text.charCodeAt(j);
      const d =
        c >= 48 && c <= 57
          ? c - 48
          : c >= 97 && c <= 102
            ? c - 87
            : c >= 65 && c <= 70
              ? c - 55
              : -1;
      if (d < 0) break;
      value = value * 16 + d;
      j++;
    }
    if (j < end && text.charCodeAt(j) === 46) {
      // Embedded IPv4 in the last 32 bits.
      const v4 = parseIPv4(text, i, end);
      if (v4 < 0) return false;
      groups.push(v4 >>> 16, v4 & 0xffff);
      i = end;
      break;
    }
    if (j === i || j - i > 4) return false;
    groups.push(value);
    i = j;
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap !== -1) return false;
      gap = groups.length;
      i++;
    } else if (i === end) {
      return false; // trailing single colon
    }
  }
  if (gap === -1 ? groups.length !== 8 : groups.length > 7) return false;
  const full = new Array<number>(8).fill(0);
  if (gap === -1) {
    for (let k = 0; k < 8; k++) full[k] = groups[k] as number;
  } else {
    for (let k = 0; k < gap; k++) full[k] = groups[k] as number;
    const tail = groups.length - gap;
    for (let k = 0; k < tail; k++) full[8 - tail + k] = groups[gap + k] as number;
  }
  for (let k = 0; k < 4; k++) {
    out[k] = (((full[2 * k] as number) << 16) | (full[2 * k + 1] as number)) >>> 0;
  }
  return true;
}

/** Whether `text` is "ADDRESS" or "ADDRESS/PREFIX" with a prefix in range. */
export function isValidCidr(text: string): boolean {
  return parseCidr(text) !== undefined;
}

interface Block {
  family: 4 | 6;
  v4: number;
  v4Mask: number;
  v6: Uint32Array;
  v6Mask: Uint32Array;
}

function parseCidr(text: string): Block | undefined {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  if (addressText.includes("%")) return undefined;
  const address = new ParsedAddress();
  if (!address.parse(addressText)) return undefined;
  // An IPv4-mapped block is written with an IPv6 prefix length.
  const written6 = addressText.includes(":");
  const maxBits = written6 ? 128 : 32;
  let bits = maxBits;
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
    bits = Number(prefixText);
    if (bits > maxBits) return undefined;
  }
  if (address.family === 4) {
    const v4Bits = written6 ? bits - 96 : bits;
    if (v4Bits < 0) return undefined; // wider than the mapped range: say it in IPv6
    const v4Mask = v4Bits === 0 ? 0 : (0xffffffff << (32 - v4Bits)) >>> 0;
    return {
      family: 4,
      v4: (address.v4 & v4Mask) >>> 0,
      v4Mask,
      v6: new Uint32Array(4),
      v6Mask: new Uint32Array(4),
    };
  }
  const v6Mask = new Uint32Array(4);
  const v6 = new Uint32Array(4);
  for (let k = 0; k < 4; k++) {
    const wordBits = Math.max(0, Math.min(32, bits - 32 * k));
    v6Mask[k] = wordBits === 0 ? 0 : (0xffffffff << (32 - wordBits)) >>> 0;
    v6[k] = ((address.v6[k] as number) & (v6Mask[k] as number)) >>> 0;
  }
  return { family: 6, v4: 0, v4Mask: 0, v6, v6Mask };
}

/** A compiled list of CIDR blocks. */
export class CidrSet {
  private readonly v4: Uint32Array; // pairs: network, mask
  private readonly v6: Uint32Array; // octets of words: network ×4, mask ×4

  constructor(cidrs: readonly string[]) {
    const blocks = cidrs.map((text) => {
      const block = parseCidr(text);
      if (block === undefined) throw new Error(`invalid CIDR "${text}"`);
      return block;
    });
    const v4 = blocks.filter((b) => b.family === 4);
    const v6 = blocks.filter((b) => b.family === 6);
    this.v4 = new Uint32Array(v4.length * 2);
    v4.forEach((b, i) => {
      this.v4[2 * i] = b.v4;
      this.v4[2 * i + 1] = b.v4Mask;
    });
    this.v6 = new Uint32Array(v6.length * 8);
    v6.forEach((b, i) => {
      this.v6.set(b.v6, 8 * i);
      this.v6.set(b.v6Mask, 8 * i + 4);
    });
  }

  contains(address: ParsedAddress): boolean {
    if (address.family === 4) {
      const ip = address.v4;
      const list = this.v4;
      for (let i = 0; i < list.length; i += 2) {
        if ((ip & (list[i + 1] as number)) >>> 0 === list[i]) return true;
      }
      return false;
    }
    if (address.family === 6) {
      const w = address.v6;
      const list = this.v6;
      for (let i = 0; i < list.length; i += 8) {
        if (
          ((w[0] as number) & (list[i + 4] as number)) >>> 0 === list[i] &&
          ((w[1] as number) & (list[i + 5] as number)) >>> 0 === list[i + 1] &&
          ((w[2] as number) & (list[i + 6] as number)) >>> 0 === list[i + 2] &&
          ((w[3] as number) & (list[i + 7] as number)) >>> 0 === list[i + 3]
        ) {
          return true;
        }
      }
    }
    return false;
  }

  /** Convenience for cold paths: parses `text` and tests it. */
  containsText(text: string): boolean {
    const address = new ParsedAddress();
    return address.parse(text) && this.contains(address);
  }
}

/** The canonical text of an address as graygate reports it: IPv4-mapped IPv6 → IPv4. */
export function normalizeAddress(text: string): string {
  if (text.length > 7 && text.charCodeAt(0) === 58 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(text)) {
    return text.slice(7);
  }
  return text;
}
