/**
 * Shared by the proxy tests: graygate as a real child process on port 0,
 * upstreams (Node servers, raw sockets) in the test process on port 0, a
 * client that reads whole answers, and /metrics parsed into samples.
 * Everything started here is stopped by the test's teardown.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Test } from "tap";
import { Agent, type Dispatcher, request } from "undici";
import { stringify } from "yaml";

export const BIN = fileURLToPath(new URL("../../bin/graygate.js", import.meta.url));

export const sha256 = (data: string | Uint8Array): string =>
  createHash("sha256").update(data).digest("hex");

/** A fresh temporary folder, removed when the test ends. */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "graygate-proxy-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes config text (or a config object, as YAML) to a temp file; returns its path. */
export function writeConfig(t: Test, config: string | object): string {
  const file = join(tempDir(t), "graygate.yaml");
  writeFileSync(file, typeof config === "string" ? config : stringify(config));
  return file;
}

// ---------------------------------------------------------------- configs

/** Both listeners on a free loopback port. */
export const LISTEN = { server: { listen: "127.0.0.1:0" }, admin: { listen: "127.0.0.1:0" } };

/** The rule of docs/CONFIG.md's example: `x-canary: always` → canary. */
export const QA_FORCE = {
  name: "qa-force",
  when: { header: { "x-canary": "always" } },
  to: "canary",
};

/**
 * A route `name` with upstreams `NAME-stable` and `NAME-canary` and the rule
 * qa-force, as the pieces of a config: spread several into `config()`.
 */
export function canaryRoute(
  name: string,
  stable: string,
  canary: string,
  extra: Record<string, unknown> = {},
): { upstreams: Record<string, { targets: string[] }>; route: Record<string, unknown> } {
  return {
    upstreams: {
      [`${name}-stable`]: { targets: [stable] },
      [`${name}-canary`]: { targets: [canary] },
    },
    route: {
      name,
      versions: { stable: `${name}-stable`, canary: `${name}-canary` },
      rules: [QA_FORCE],
      ...extra,
    },
  };
}

/** A whole config from canaryRoute pieces (first route first), plus top-level extras. */
export function config(
  routes: ReturnType<typeof canaryRoute>[],
  extra: { server?: object; admin?: object; features?: object } = {},
): object {
  return {
    server: { ...LISTEN.server, ...extra.server },
    admin: { ...LISTEN.admin, ...extra.admin },
    upstreams: Object.assign({}, ...routes.map((r) => r.upstreams)),
    ...(extra.features === undefined ? {} : { features: extra.features }),
    routes: routes.map((r) => r.route),
  };
}

// ---------------------------------------------------------------- graygate

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type LogLine = Record<string, unknown>;

/** A graygate (or any bin/graygate.js) child process and what it printed. */
export class Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout = "";
  stderr = "";
  private readonly waiters: { test: (line: LogLine) => boolean; resolve: (l: LogLine) => void }[] =
    [];
  private readonly exitWaiters: ((exit: Exit) => void)[] = [];

  constructor(args: readonly string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stdout += chunk;
      for (const waiter of [...this.waiters]) {
        const line = this.logLines().find(waiter.test);
        if (line !== undefined) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        const exit = { code, signal };
        for (const waiter of this.exitWaiters) waiter(exit);
        resolve(exit);
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Every complete JSON line printed on stdout so far. */
  logLines(): LogLine[] {
    const lines: LogLine[] = [];
    for (const text of this.stdout.split("\n").slice(0, -1)) {
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        // Not a log line.
      }
    }
    return lines;
  }

  /** The first stdout line that passes `test`, now or when it is printed. */
  waitForLog(test: (line: LogLine) => boolean): Promise<LogLine> {
    const found = this.logLines().find(test);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      this.waiters.push({ test, resolve });
      this.exitWaiters.push((exit) =>
        reject(new Error(`graygate exited (${JSON.stringify(exit)}):\n${this.stderr}`)),
      );
    });
  }

  /** SIGTERM, then the exit. */
  stop(): Promise<Exit> {
    if (this.running) this.child.kill("SIGTERM");
    return this.exited;
  }
}

/** Runs bin/graygate.js with ARGS; killed at teardown if it still runs. */
export function run(t: Test, args: readonly string[], env: Record<string, string> = {}): Proc {
  const proc = new Proc(args, env);
  t.teardown(async () => {
    if (!proc.running) return;
    const kill = setTimeout(() => proc.child.kill("SIGKILL"), 10_000);
    await proc.stop();
    clearTimeout(kill);
  });
  return proc;
}

/** A serving graygate: the bound addresses from its "graygate serving" line. */
export interface Graygate extends Proc {
  readonly proxy: string;
  readonly admin: string;
  readonly proxyPort: number;
  /** Keep-alive connections of this test's client, closed at teardown. */
  readonly agent: Agent;
}

/** Starts `bin/graygate.js ARGS` and waits for it to serve. */
export async function serving(
  t: Test,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Graygate> {
  const proc = run(t, args, env);
  const line = await proc.waitForLog((l) => l.msg === "graygate serving");
  const agent = new Agent();
  t.teardown(() => agent.destroy());
  const proxy = String(line.proxy);
  return Object.assign(proc, {
    proxy,
    admin: String(line.admin),
    proxyPort: Number(new URL(proxy).port),
    agent,
  });
}

/** `graygate serve -c FILE` with this config (text or object). */
export async function startGraygate(
  t: Test,
  configText: string | object,
  env: Record<string, string> = {},
): Promise<Graygate & { file: string }> {
  const file = writeConfig(t, configText);
  return Object.assign(await serving(t, ["serve", "-c", file], env), { file });
}

// ---------------------------------------------------------------- client

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

type RequestOptions = Omit<Dispatcher.RequestOptions, "origin" | "path" | "method"> & {
  method?: Dispatcher.HttpMethod | string;
  /** In place of the test's agent (another CA, say). */
  dispatcher?: Dispatcher;
};

/** One request through this graygate's agent (a path goes to the proxy), body unread. */
export function open(gg: Graygate, url: string, options: RequestOptions = {}) {
  return request(url.startsWith("http") ? url : `${gg.proxy}${url}`, {
    dispatcher: gg.agent,
    ...options,
  } as Parameters<typeof request>[1]);
}

/** One request through this graygate's agent, its body read whole as text. */
export async function send(gg: Graygate, url: string, options: RequestOptions = {}) {
  const response = await open(gg, url, options);
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text } satisfies Answer;
}

/** GET on the admin listener. */
export const admin = (gg: Graygate, path: string, headers: Record<string, string> = {}) =>
  send(gg, `${gg.admin}${path}`, { headers });

/** A graygate error answer's JSON, checked for its shape. */
export function errorBody(t: Test, answer: Answer, status: number, error: string) {
  t.equal(answer.status, status, `status ${status}`, { text: answer.text });
  t.match(answer.headers["content-type"], /^application\/json/);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  t.strictSame(Object.keys(body).sort(), ["error", "message", "requestId", "route", "version"]);
  t.equal(body.error, error);
  t.type(body.message, "string");
  t.equal(body.requestId, answer.headers["x-request-id"]);
  return body;
}

/** Polls until `probe` holds, then passes; fails after about 10 s (state that changes on timers). */
export async function until(t: Test, what: string, probe: () => Promise<boolean>) {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return t.pass(what);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.fail(`never: ${what}`);
}

/** The process still runs and still answers: healthz on admin and one proxied request. */
export async function stillServing(t: Test, gg: Graygate, path: string, host?: string) {
  t.ok(gg.running, "graygate still runs");
  t.equal((await admin(gg, "/healthz")).status, 200, "healthz answers 200");
  const answer = await send(gg, path, host === undefined ? {} : { headers: { host } });
  t.equal(answer.status, 200, `${path} is still served`);
}

/** A raw response's whole body (content-length, chunked or up to the close), or undefined. */
function bodyOf(head: string, rest: string, closed: boolean): string | undefined {
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    let body = "";
    for (let at = 0; ; ) {
      const eol = rest.indexOf("\r\n", at);
      if (eol === -1) return undefined;
      const size = Number.parseInt(rest.slice(at, eol), 16);
      if (size === 0) return body;
      if (rest.length < eol + 2 + size + 2) return undefined;
      body += rest.slice(eol + 2, eol + 2 + size);
      at = eol + 2 + size + 2;
    }
  }
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length === null) return closed ? rest : undefined;
  return rest.length < Number(length[1]) ? undefined : rest;
}

/**
 * Sends raw bytes to a port and reads one response (headers, then its
 * body), then closes the connection.
 */
export function rawExchange(port: number, bytes: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = Buffer.alloc(0);
    const done = (closed: boolean) => {
      const text = data.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return false;
      const head = text.slice(0, end);
      const body = bodyOf(head, text.slice(end + 4), closed);
      if (body === undefined) return false;
      socket.destroy();
      resolve({ head, body });
      return true;
    };
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      done(false);
    });
    socket.on("error", reject);
    socket.on("close", () => {
      if (!done(true)) reject(new Error(`connection closed after ${JSON.stringify(String(data))}`));
    });
    socket.write(bytes);
  });
}

/** The lower-cased header names of a raw response head. */
export function headerNames(head: string): string[] {
  return head
    .split("\r\n")
    .slice(1)
    .map((line) => line.slice(0, line.indexOf(":")).toLowerCase());
}

// ---------------------------------------------------------------- upstreams

export interface Upstream {
  readonly port: number;
  readonly url: string;
}

/** Closes a server and every connection it has (HTTP ones, or the raw `sockets`) at teardown. */
function closeAtTeardown(
  t: Test,
  server: Server | ReturnType<typeof createNetServer>,
  sockets: ReadonlySet<Socket> = new Set(),
) {
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
}

async function listening(server: Server | ReturnType<typeof createNetServer>): Promise<Upstream> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { port, url: `http://127.0.0.1:${port}` };
}

/** An HTTP upstream with this handler, on a free port. */
export async function startUpstream(
  t: Test,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Upstream & { server: Server }> {
  const server = createServer(handler);
  closeAtTeardown(t, server);
  return { ...(await listening(server)), server };
}

/** What an echo upstream saw of one request. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/** An upstream that records each request and answers JSON `{version, method, url}`. */
export async function startEcho(t: Test, version: string): Promise<Upstream & { seen: Seen[] }> {
  const seen: Seen[] = [];
  const upstream = await startUpstream(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      res.writeHead(200, { "content-type": "application/json", "x-upstream": version });
      res.end(JSON.stringify({ version, method: req.method, url: req.url }));
    });
  });
  return { ...upstream, seen };
}

/**
 * An upstream that counts what reaches it: every byte on every connection,
 * and the requests it parsed whole (each answered 200 "ok").
 */
export async function startRecorder(t: Test) {
  /**
   * parseErrors: requests the upstream's own (strict) parser refused. cutShort: connections
   * closed inside a request, as when a client goes away mid-body and graygate aborts the
   * streamed upstream request: unfinished, not malformed. cutShortIds holds the x-request-id
   * of each.
   */
  const seen = { bytes: 0, parseErrors: 0, cutShortIds: [] as string[], requests: [] as Seen[] };
  const lastBytes = new WeakMap<Socket, string>();
  const upstream = await startUpstream(t, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      seen.requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      });
      res.end("ok");
    });
  });
  upstream.server.on("connection", (socket: Socket) => {
    socket.on("data", (chunk: Buffer) => {
      // The tail is enough to name the request a connection ended inside.
      lastBytes.set(
        socket,
        ((lastBytes.get(socket) ?? "") + chunk.toString("latin1")).slice(-4096),
      );
      seen.bytes += chunk.length;
    });
  });
  upstream.server.on("clientError", (error: Error & { code?: string }, socket: Socket) => {
    if (error.code === "HPE_INVALID_EOF_STATE") {
      const ids = [...(lastBytes.get(socket) ?? "").matchAll(/\r\nx-request-id: ([^\r]*)/g)];
      seen.cutShortIds.push(ids.at(-1)?.[1] ?? "(none)");
    } else if (error.code !== "ECONNRESET") seen.parseErrors++;
    socket.destroy();
  });
  return { ...upstream, seen };
}

/** A TCP upstream: `onSocket` writes whatever bytes it likes. */
export async function startRawUpstream(t: Test, onSocket: (socket: Socket) => void) {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onSocket(socket);
  });
  closeAtTeardown(t, server, sockets);
  return listening(server);
}

/** A loopback URL that nothing listens on: a port that was just bound, then closed. */
export async function deadUrl(): Promise<string> {
  const server = createNetServer();
  const { url } = await listening(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

// ---------------------------------------------------------------- metrics

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus or OpenMetrics text. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1] as string] = label[2] as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample with exactly these labels, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}) {
  const want = JSON.stringify(Object.entries(labels).sort());
  return parseSamples(text).find(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want,
  )?.value;
}

/** GET /metrics: its content type and text. */
export async function scrape(gg: Graygate, accept?: string) {
  const answer = await admin(gg, "/metrics", accept === undefined ? {} : { accept });
  return { contentType: String(answer.headers["content-type"]), text: answer.text };
}

/** Asserts that graygate_in_flight_requests has samples and all of them are 0. */
export async function nothingInFlight(t: Test, gg: Graygate): Promise<void> {
  const { text } = await scrape(gg);
  const inFlight = parseSamples(text).filter((s) => s.name === "graygate_in_flight_requests");
  t.ok(inFlight.length > 0, "graygate_in_flight_requests has samples");
  t.strictSame(
    inFlight.filter((s) => s.value !== 0),
    [],
    "nothing is left in flight",
  );
}
