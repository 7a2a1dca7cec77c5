/**
 * The hand-written access line is the JSON pino writes for the same entry,
 * byte for byte (escapes, non-ASCII, lone surrogates included), and the
 * buffered writer keeps every line, in order, on a file and on a pipe.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import pino from "pino";
import t from "tap";
import { LineWriter } from "../../src/observe/line-writer.ts";
import { type AccessEntry, accessLine } from "../../src/observe/log.ts";

const NOW = 1764612000123;

/** pino configured as createLogger configures it, writing into an array. */
function pinoLines(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino(
    {
      level: "info",
      base: null,
      timestamp: () => `,"time":"${new Date(NOW).toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (line: string) => lines.push(line) },
  );
  return { logger, lines };
}

const entry = (over: Partial<AccessEntry>): AccessEntry => ({
  msg: "request",
  method: "GET",
  path: "/v1/orders/17",
  status: 200,
  route: "orders",
  version: "stable",
  rule: "default",
  target: "http://127.0.0.1:8080",
  duration: 1.234,
  bytes: 3,
  requestId: "3bed8874-3e29-4e4b-ae88-1b71bb55d939",
  client: "127.0.0.1",
  ...over,
});

t.test("the same bytes as pino's logger.info(entry)", async (t) => {
  const { logger, lines } = pinoLines();
  const cases = [
    entry({}),
    entry({ path: '/a"b\\c\u0001\u001f\u007f', requestId: 'q"\\' }),
    entry({ path: "/caf\u00e9/\u20ac/\u{1f600}", client: "::1", status: 499, duration: 0 }),
    entry({ path: "\u2028\u2029\t\n\r", bytes: 20_971_520, duration: 123456.789 }),
  ];
  for (const [i, item] of cases.entries()) {
    logger.info(item);
    // Named by index: a raw U+2028 in a test name would break the TAP stream.
    t.equal(accessLine(item, NOW), lines.pop(), `case ${i}`);
  }
  // Lone surrogates: pino writes them raw (they become U+FFFD on the way out); the
  // access line escapes them, as JSON.stringify does, so that nothing is lost.
  const lone = entry({ path: "/lone\ud800/and\udc00", target: "", route: "none" });
  t.equal(accessLine(lone, NOW).includes("\\ud800"), true, "a lone surrogate is escaped");
  const { msg, ...fields } = lone;
  t.strictSame(
    JSON.parse(accessLine(lone, NOW)),
    { level: "info", time: new Date(NOW).toISOString(), msg, ...fields },
    "and parses back to the same value",
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), (path, id) => {
      const item = entry({ path, requestId: id });
      logger.info(item);
      return accessLine(item, NOW) === lines.pop();
    }),
    { numRuns: 2000 },
  );
});

t.test("a file: every line, in order, after flushSync", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "graygate-lines-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "out.log");
  const fd = openSync(file, "w");
  const writer = new LineWriter(fd, { flushBytes: 1024 });
  const expected: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const line = `{"n":${i},"pad":"${"x".repeat(i % 97)}"}\n`;
    expected.push(line);
    writer.write(line);
  }
  writer.close();
  closeSync(fd);
  t.equal(readFileSync(file, "utf8"), expected.join(""));
  t.equal(writer.dropped, 0);
});

t.test(
  "a pipe: written asynchronously, every line in order; a stuck reader costs lines, counted",
  async (t) => {
    // A child that copies its stdin to a file: our end of the pipe is its stdin.
    const dir = mkdtempSync(join(tmpdir(), "graygate-lines-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "piped.log");
    const reader = spawn("sh", ["-c", `cat > '${file}'`], { stdio: ["pipe", "ignore", "inherit"] });
    const fd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const writer = new LineWriter(fd, { flushBytes: 512, flushMs: 5 });
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const line = `line ${i} ${"y".repeat(i % 50)}\n`;
      expected.push(line);
      writer.write(line);
      if (i % 300 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    writer.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    reader.stdin?.end();
    await new Promise((resolve) => reader.on("close", resolve));
    t.equal(readFileSync(file, "utf8"), expected.join(""), "all lines, in order");

    const stuck = new LineWriter(fd, { flushBytes: 64, maxQueuedBytes: 256 });
    let told = 0;
    stuck.onDropped = (lines) => {
      told += lines;
    };
    // The reader is gone: writes fail or queue; past 256 bytes queued, lines are dropped.
    for (let i = 0; i < 200; i++) stuck.write(`dropped line ${i}\n`);
    t.ok(stuck.dropped > 0, `lines dropped and counted (${stuck.dropped})`);
    t.equal(told, 0, "told only after a write goes through");
  },
);
