/**
 * An open-loop load generator: requests are scheduled at a fixed rate from
 * the start time, whether or not earlier answers have come back, over a pool
 * of keep-alive connections (raw sockets, one request in flight on each).
 * Latency is measured from each request's *scheduled* time, so a stalled
 * server is charged for the requests it held back (no coordinated omission);
 * a request due while every connection is busy waits, and that wait counts.
 *
 * Debian's wrk is closed loop (no -R) and wrk2 is not packaged; autocannon's
 * -R caps a closed loop per second and measures from the actual send. Hence
 * this. Between sends it sleeps (Atomics.wait, sub-millisecond, not a spin,
 * so the upstream sharing its core keeps its share) for at most 0.1 ms, which
 * bounds how late an answer can be read: the resolution of the figures.
 *
 *   node load/open-loop.ts --url http://127.0.0.1:8080 --host api2.example.com \
 *     --path '/v1/svc37/items/42?page=2' --rate 10000 --seconds 10 [--warmup 2] \
 *     [--connections 50] [-H 'accept: application/json']…
 *
 * Prints one JSON line: achieved rate, latency percentiles (ms), errors.
 */
import { connect, type Socket } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    host: { type: "string" },
    path: { type: "string", default: "/" },
    header: { type: "string", short: "H", multiple: true, default: [] },
    rate: { type: "string" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "0" },
    connections: { type: "string", default: "50" },
    // Prefix of the x-user-id values (then the request's number): unique per process by default.
    tag: { type: "string", default: `o${process.pid}` },
  },
});
if (values.url === undefined || values.rate === undefined) {
  process.stderr.write("usage: open-loop.ts --url URL --rate N [--seconds S] [--warmup S] …\n");
  process.exit(2);
}
const origin = new URL(values.url);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const connectionCount = Number(values.connections);
const intervalMs = 1000 / rate;
const total = Math.floor(rate * (warmup + seconds));
/** Requests scheduled before this index are warm-up: sent, not measured. */
const firstMeasured = Math.floor(rate * warmup);
const MAX_SLEEP_MS = 0.1;
const GRACE_MS = 5000;

const head = [
  `GET ${values.path} HTTP/1.1`,
  `Host: ${values.host ?? origin.host}`,
  ...values.header,
  `x-user-id: ${values.tag}-`,
].join("\r\n");

const latencies = new Float64Array(total - firstMeasured).fill(-1);
const sendLags = new Float64Array(total - firstMeasured);
let start = 0;
let scheduled = 0; // requests whose time has come
let sent = 0; // of those, sent: [sent, scheduled) wait for a free connection
let errors = 0;
let non2xx = 0;
let inFlight = 0;

const scheduledAt = (index: number) => start + index * intervalMs;

class Connection {
  socket!: Socket;
  /** The request in flight, or -1. */
  index = -1;
  private buffer: Buffer | undefined;

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: origin.hostname, port: Number(origin.port), noDelay: true });
      this.socket = socket;
      socket.once("connect", () => resolve());
      socket.once("error", reject);
      socket.on("data", (chunk: Buffer) => this.onData(chunk));
      socket.on("close", () => this.onClose());
      socket.on("error", () => {});
    });
  }

  send(index: number): void {
    this.index = index;
    inFlight++;
    if (index >= firstMeasured)
      sendLags[index - firstMeasured] = performance.now() - scheduledAt(index);
    this.socket.write(`${head}${index}\r\n\r\n`, "latin1");
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer === undefined ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = responseEnd(this.buffer);
    if (end === undefined) return;
    const status = end.status;
    const closing = end.close;
    this.buffer = end.length < this.buffer.length ? this.buffer.subarray(end.length) : undefined;
    this.finish(status >= 200 && status < 400 ? "ok" : "non2xx");
    if (closing) this.socket.destroy();
    else idle.push(this);
    pump();
  }

  private finish(outcome: "ok" | "non2xx" | "error"): void {
    const index = this.index;
    if (index < 0) return;
    this.index = -1;
    inFlight--;
    if (outcome === "error") errors++;
    else {
      if (outcome === "non2xx") non2xx++;
      if (index >= firstMeasured)
        latencies[index - firstMeasured] = performance.now() - scheduledAt(index);
    }
  }

  private onClose(): void {
    this.finish("error");
    this.buffer = undefined;
    if (!finished) {
      // The server closed a keep-alive connection: open another in its place.
      this.open().then(
        () => {
          idle.push(this);
          pump();
        },
        () => setTimeout(() => this.onClose(), 10),
      );
    }
  }
}

/** Where the first complete response in `buffer` ends, or undefined if it is not all in yet. */
function responseEnd(
  buffer: Buffer,
): { length: number; status: number; close: boolean } | undefined {
  const headerEnd = buffer.indexOf("\r\n\r\n");
  if (headerEnd < 0) return undefined;
  const header = buffer.toString("latin1", 0, headerEnd);
  const status = Number(header.slice(9, 12));
  const close = /\r\nconnection:[ \t]*close/i.test(header);
  const bodyStart = headerEnd + 4;
  const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(header);
  if (length !== null) {
    const end = bodyStart + Number(length[1]);
    return end <= buffer.length ? { length: end, status, close } : undefined;
  }
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(header)) {
    let at = bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf("\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(buffer.toString("latin1", at, lineEnd), 16);
      if (size === 0) {
        // The last chunk, optional trailers, then an empty line.
        const end = buffer.indexOf("\r\n\r\n", lineEnd);
        return end < 0 ? undefined : { length: end + 4, status, close };
      }
      at = lineEnd + 2 + size + 2;
      if (at > buffer.length) return undefined;
    }
  }
  // No length, not chunked: an empty body (1xx, 204, 304) or read-to-close (not expected here).
  return { length: bodyStart, status, close };
}

/**
 * Free connections, used in turn (first freed, first reused): every connection stays busy, as
 * with 50 clients each sending at the rate's share. A stack would leave the ones at its bottom
 * idle for seconds at a low rate, long enough for a server's keep-alive timeout to close them
 * just as a request goes out (a client-side race, counted as an error).
 */
const idle: Connection[] = [];
const wakeup = new Int32Array(new SharedArrayBuffer(4));
let finished = false;
let deadline = 0;

/** Admits every request whose time has come and sends what free connections can take. */
function pump(): void {
  const now = performance.now();
  while (scheduled < total && scheduledAt(scheduled) <= now) scheduled++;
  while (sent < scheduled && idle.length > 0) (idle.shift() as Connection).send(sent++);
}

function loop(): void {
  pump();
  if ((sent === total && inFlight === 0) || performance.now() > deadline) {
    report();
    return;
  }
  const untilNext = scheduled < total ? scheduledAt(scheduled) - performance.now() : MAX_SLEEP_MS;
  const pause = Math.min(untilNext, MAX_SLEEP_MS);
  // Sleep, not spin: a blocked wait of at most 0.1 ms, then back to the event loop for I/O.
  if (pause > 0.005) Atomics.wait(wakeup, 0, 0, pause);
  setImmediate(loop);
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

function report(): void {
  finished = true;
  const done = latencies.filter((value) => value >= 0).sort();
  const lags = sendLags.subarray(0, Math.max(0, sent - firstMeasured)).sort();
  let sum = 0;
  for (const value of done) sum += value;
  const measuredLost = total - firstMeasured - done.length;
  process.stdout.write(
    `${JSON.stringify({
      rate,
      seconds,
      connections: connectionCount,
      scheduled: total - firstMeasured,
      answered: done.length,
      achievedRate: done.length / seconds,
      errors,
      non2xx,
      unanswered: measuredLost,
      p50: percentile(done, 0.5),
      p90: percentile(done, 0.9),
      p99: percentile(done, 0.99),
      p999: percentile(done, 0.999),
      max: done.length > 0 ? (done[done.length - 1] as number) : Number.NaN,
      mean: done.length > 0 ? sum / done.length : Number.NaN,
      sendLagP99: percentile(lags, 0.99),
    })}\n`,
  );
  for (const connection of connections) connection.socket.destroy();
  process.exit(0);
}

const connections = Array.from({ length: connectionCount }, () => new Connection());
await Promise.all(connections.map((connection) => connection.open()));
idle.push(...connections);
start = performance.now() + 5;
deadline = start + (warmup + seconds) * 1000 + GRACE_MS;
loop();
