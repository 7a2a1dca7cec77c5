import { existsSync, readFileSync } from "node:fs";
import t from "tap";
import {
  bucketOf,
  murmur3,
  murmur3From,
  saltPrefix,
  thresholdOf,
} from "../../src/routing/bucket.ts";

interface Vector {
  input: string;
  murmur3: number;
  bucket: number;
}

const vectorsFile = new URL("../fixtures/hash-vectors.json", import.meta.url);
const vectorsText = readFileSync(vectorsFile, "utf8");
const { vectors } = JSON.parse(vectorsText) as { vectors: Vector[] };
// The shared contract's copy, beside the repository, when this checkout has one.
const sharedFile = new URL("../../../shared/hash-vectors.json", import.meta.url);

t.test(
  "the fixture is the shared contract's vector file",
  { skip: !existsSync(sharedFile) && "no ../shared beside this checkout" },
  async (t) => {
    t.same(JSON.parse(vectorsText), JSON.parse(readFileSync(sharedFile, "utf8")));
  },
);

t.test("reproduces every shared hash vector", async (t) => {
  t.ok(vectors.length >= 16);
  for (const vector of vectors) {
    t.equal(murmur3(vector.input), vector.murmur3, `murmur3(${JSON.stringify(vector.input)})`);
    t.equal(bucketOf(vector.murmur3), vector.bucket, `bucket(${JSON.stringify(vector.input)})`);
  }
});

t.test("a salt prefix continued by the key equals hashing the whole input", async (t) => {
  for (const vector of vectors) {
    const colon = vector.input.indexOf(":");
    if (colon === -1) continue;
    const salt = vector.input.slice(0, colon);
    const key = vector.input.slice(colon + 1);
    t.equal(murmur3From(saltPrefix(salt), key), vector.murmur3, vector.input);
  }
});

t.test("matches Buffer-encoded UTF-8, lone surrogates included", async (t) => {
  for (const text of ["\ud800", "a\udc00b", "é", "\u{1F600}", "吉", "x".repeat(1001)]) {
    const viaBuffer = Buffer.from(text, "utf8").toString("latin1");
    // latin1 round-trip gives one char per byte: ASCII path hashing of the same bytes.
    const bytes = [...viaBuffer].map((c) => c.charCodeAt(0));
    t.equal(murmur3(text), murmur3Bytes(bytes), JSON.stringify(text.slice(0, 8)));
  }
});

t.test("threshold is round(percent * 100)", async (t) => {
  t.equal(thresholdOf(10), 1000);
  t.equal(thresholdOf(0.29), 29);
  t.equal(thresholdOf(0), 0);
  t.equal(thresholdOf(100), 10000);
  t.equal(thresholdOf(33.33), 3333);
});

/** Reference murmur3 over a byte array, written the textbook way. */
function murmur3Bytes(bytes: number[]): number {
  let h = 0;
  const blocks = bytes.length >> 2;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  for (let i = 0; i < blocks; i++) {
    let k =
      (bytes[4 * i] as number) |
      ((bytes[4 * i + 1] as number) << 8) |
      ((bytes[4 * i + 2] as number) << 16) |
      ((bytes[4 * i + 3] as number) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    for (let i = rest - 1; i >= 0; i--) k = (k << 8) | (bytes[tail + i] as number);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
