/**
 * The one sticky hash: MurmurHash3 x86 32-bit (seed 0) over the UTF-8 bytes of
 * `salt + ":" + key`, mapped to 10,000 buckets. Every replica, and any other
 * language that implements the same two lines, puts a key in the same bucket.
 *
 * The hash runs straight over the JS string, encoding UTF-8 on the fly, so a
 * request costs no Buffer. The salt prefix is hashed once at compile time into
 * a `HashPrefix` that each request continues from.
 */

export const BUCKETS = 10_000;

/** MurmurHash3 state after some bytes: a partial word and the running hash. */
export interface HashPrefix {
  readonly h1: number;
  readonly tail: number;
  readonly tailLength: number;
  readonly length: number;
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const EMPTY: HashPrefix = { h1: 0, tail: 0, tailLength: 0, length: 0 };

function mixBlock(h1: number, block: number): number {
  let k1 = Math.imul(block, C1);
  k1 = (k1 << 15) | (k1 >>> 17);
  k1 = Math.imul(k1, C2);
  let h = h1 ^ k1;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

// The running state between `load`, `absorb` and `finish`. `absorb` works
// on locals and writes back once, so its loop touches no module variables.
let rH1 = 0;
let rTail = 0;
let rTailLength = 0;
let rLength = 0;

/** Feeds the UTF-8 encoding of `text` (lone surrogates as U+FFFD, as TextEncoder does). */
function absorb(text: string): void {
  let h1 = rH1;
  let tail = rTail;
  let shift = rTailLength << 3;
  let length = rLength;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      // ASCII, the usual key: one byte, no inner loop.
      tail |= c << shift;
      length++;
      shift += 8;
      if (shift === 32) {
        h1 = mixBlock(h1, tail);
        tail = 0;
        shift = 0;
      }
      continue;
    }
    let bytes: number; // up to 4 UTF-8 bytes, first byte lowest
    let count: number;
    if (c < 0x800) {
      bytes = 0xc0 | (c >> 6) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        bytes =
          0xf0 |
          (c >> 18) |
          ((0x80 | ((c >> 12) & 0x3f)) << 8) |
          ((0x80 | ((c >> 6) & 0x3f)) << 16) |
          ((0x80 | (c & 0x3f)) << 24);
        count = 4;
      } else {
        bytes = 0xef | (0xbf << 8) | (0xbd << 16);
        count = 3;
      }
    } else {
      bytes = 0xe0 | (c >> 12) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
      count = 3;
    }
    length += count;
    for (let k = 0; k < count; k++) {
      tail |= (bytes & 0xff) << shift;
      bytes >>>= 8;
      shift += 8;
      if (shift === 32) {
        h1 = mixBlock(h1, tail);
        tail = 0;
        shift = 0;
      }
    }
  }
  rH1 = h1;
  rTail = tail;
  rTailLength = shift >> 3;
  rLength = length;
}

function load(prefix: HashPrefix): void {
  rH1 = prefix.h1;
  rTail = prefix.tail;
  rTailLength = prefix.tailLength;
  rLength = prefix.length;
}

function finish(): number {
  let h1 = rH1;
  if (rTailLength > 0) {
    let k1 = Math.imul(rTail, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, C2);
    h1 ^= k1;
  }
  return fmix(h1 ^ rLength);
}

/** The final avalanche, to an unsigned 32-bit value. */
function fmix(hash: number): number {
  let h1 = hash;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

/** The hash state after `text`, to be continued by `murmur3From`. */
export function hashPrefix(text: string): HashPrefix {
  load(EMPTY);
  absorb(text);
  return { h1: rH1, tail: rTail, tailLength: rTailLength, length: rLength };
}

/** murmur3_x86_32 of the UTF-8 bytes of `text`, seed 0, unsigned. */
export function murmur3(text: string): number {
  load(EMPTY);
  absorb(text);
  return finish();
}

/** murmur3_x86_32 of (the bytes behind `prefix`) followed by UTF-8 `text`. */
export function murmur3From(prefix: HashPrefix, text: string): number {
  // The usual key is ASCII: hash it here, in locals, end to end.
  let h1 = prefix.h1;
  let tail = prefix.tail;
  let shift = prefix.tailLength << 3;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      load(prefix);
      absorb(text);
      return finish();
    }
    tail |= c << shift;
    shift += 8;
    if (shift === 32) {
      h1 = mixBlock(h1, tail);
      tail = 0;
      shift = 0;
    }
  }
  if (shift > 0) {
    let k1 = Math.imul(tail, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
  }
  return fmix(h1 ^ (prefix.length + n));
}

/** floor(h * 10000 / 2^32): exact in a double, since h * 10000 < 2^46. */
export function bucketOf(hash: number): number {
  return Math.floor((hash * BUCKETS) / 4294967296);
}

/** The bucket a percentage admits below: round(percent * 100). */
export function thresholdOf(percent: number): number {
  return Math.round(percent * 100);
}

/** The prefix for a salt: `salt + ":"`. */
export function saltPrefix(salt: string): HashPrefix {
  return hashPrefix(`${salt}:`);
}
