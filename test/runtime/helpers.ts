/**
 * Shared by the reload and lifecycle tests: a config folder in a temp dir,
 * upstreams that answer with their own name (so a response tells which config
 * routed it), the ways a config file gets replaced, polling with a bounded
 * wait, the reload counters, and the processes of a clustered graygate.
 * graygate itself runs as a child process (test/proxy/helpers.ts).
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import type { ServerResponse } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import type { Test } from "tap";
import { stringify } from "yaml";
import {
  admin,
  type Graygate,
  type LogLine,
  parseSamples,
  sample,
  send,
  serving,
  sha256,
  startUpstream,
  tempDir,
} from "../proxy/helpers.ts";

export { admin, type Graygate, parseSamples, send, sha256, tempDir };

/** The upstreams every test config names; each answers 200 with its own name. */
export const NAMES = ["alpha", "beta", "gamma"] as const;
export type Name = (typeof NAMES)[number];

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until `done` holds; throws (failing the test) after `ms`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T> | T,
  done: (value: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what}: still not so after ${ms} ms (last: ${JSON.stringify(value)})`);
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------- config files

export interface Setup {
  /** The folder watched; `file` is `graygate.yaml` in it. */
  readonly dir: string;
  readonly file: string;
  readonly urls: Record<Name, string>;
  /** Each request the upstreams got: their name and both ends of its connection. */
  readonly peers: Peer[];
  /** A valid config that routes every request to `to`. */
  good(to: Name): string;
}

export interface Peer {
  name: Name;
  /** The port of graygate's end. */
  port: number;
  upstreamPort: number;
}

export type Extra = { server?: object; admin?: object; urls?: Partial<Record<Name, string>> };

/** Upstreams alpha, beta and gamma (unless `extra.urls` has one) and a temp folder. */
export async function setup(t: Test, extra: Extra = {}): Promise<Setup> {
  const urls = { ...extra.urls } as Record<Name, string>;
  const peers: Peer[] = [];
  for (const name of NAMES) {
    if (urls[name] !== undefined) continue;
    const upstream = await startUpstream(t, (req, res) => {
      const { remotePort, localPort } = req.socket;
      peers.push({ name, port: remotePort as number, upstreamPort: localPort as number });
      res.end(name);
    });
    urls[name] = upstream.url;
  }
  const dir = tempDir(t);
  const good = (to: Name) =>
    stringify({
      server: { listen: "127.0.0.1:0", drain: "30s", ...extra.server },
      admin: { listen: "127.0.0.1:0", ...extra.admin },
      log: { access: false },
      upstreams: Object.fromEntries(NAMES.map((name) => [name, { targets: [urls[name]] }])),
      routes: [{ name: "web", versions: { stable: to } }],
    });
  return { dir, file: join(dir, "graygate.yaml"), urls, peers, good };
}

/** The last line of a text, counted from 1. */
const lastLine = (text: string) => text.split("\n").length - 1;

/** Valid config text with an unclosed flow sequence added: a YAML syntax error at its `[`. */
export function badYaml(good: string): { text: string; at: string } {
  return { text: `${good}oops: [1, 2\n`, at: `${lastLine(good) + 1}:7` };
}

/** Valid config text with an unknown top-level key added: a schema error at the key. */
export function unknownKey(good: string): { text: string; at: string } {
  return { text: `${good}bogus: true\n`, at: `${lastLine(good) + 1}:1` };
}

let saves = 0;

/** An editor's save: a temp file in the same folder renamed over the file. */
export function renameSave(file: string, text: string): void {
  const temp = `${file}.${process.pid}.${++saves}.swp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

/**
 * The Kubernetes ConfigMap volume layout in `dir`: `graygate.yaml →
 * ..data/graygate.yaml`, `..data → ..2026_a`. Each later call publishes like
 * the kubelet: a new timestamped folder, `..data_tmp` pointing at it renamed
 * over `..data` (atomic), then the old folder removed. Returns the file path.
 */
export function configMap(dir: string): (text: string) => string {
  let current: string | undefined;
  let count = 0;
  return (text) => {
    const next = `..2026_${String.fromCharCode(97 + count++)}`;
    mkdirSync(join(dir, next));
    writeFileSync(join(dir, next, "graygate.yaml"), text);
    if (current === undefined) {
      symlinkSync(next, join(dir, "..data"));
      symlinkSync("..data/graygate.yaml", join(dir, "graygate.yaml"));
    } else {
      symlinkSync(next, join(dir, "..data_tmp"));
      renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
      rmSync(join(dir, current), { recursive: true });
    }
    current = next;
    return join(dir, "graygate.yaml");
  };
}

/** The body the held upstream sends once released: large enough to take several writes. */
export const HELD_BODY = "0123456789abcdef".repeat(16 * 1024);

/**
 * An upstream that holds each request until `release()`, then answers 200
 * with HELD_BODY in chunks; `arrived` resolves at the first request.
 */
export async function heldUpstream(t: Test) {
  let arrive = () => {};
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const held: ServerResponse[] = [];
  const { url } = await startUpstream(t, (_req, res) => {
    held.push(res);
    arrive();
  });
  const release = () => {
    for (const res of held.splice(0)) {
      res.writeHead(200, { "content-length": HELD_BODY.length });
      for (let at = 0; at < HELD_BODY.length; at += 16 * 1024) {
        res.write(HELD_BODY.slice(at, at + 16 * 1024));
      }
      res.end();
    }
  };
  return { url, arrived, release };
}

// ---------------------------------------------------------------- graygate

/** Writes `text` to `file` and serves it: `graygate serve -c FILE`. */
export function serve(
  t: Test,
  file: string,
  text: string | undefined,
  env: Record<string, string> = {},
): Promise<Graygate> {
  if (text !== undefined) writeFileSync(file, text);
  return serving(t, ["serve", "-c", file], env);
}

/**
 * graygate (with `extra` settings) routing to a held upstream, and one
 * request in flight there: `answer` resolves once `release()` is called, to
 * the answer or to the error that cut the request off.
 */
export async function heldRequest(t: Test, extra: Extra = {}) {
  const upstream = await heldUpstream(t);
  const s = await setup(t, { ...extra, urls: { alpha: upstream.url } });
  const gg = await serveReady(t, s.file, s.good("alpha"));
  const answer = send(gg, "/").catch((error: Error) => error);
  await upstream.arrived;
  return { gg, answer, release: upstream.release };
}

/**
 * Signals graygate with a request in flight (from heldRequest), then checks
 * that it drains: /readyz turns 503 (polled at once: the held request keeps
 * the process up), it logs `drainLog`, a new connection to the proxy is
 * refused; `meanwhile` runs; then, released, the request gets its whole
 * answer.
 */
export async function drainsInFlight(
  t: Test,
  held: Awaited<ReturnType<typeof heldRequest>>,
  signal: NodeJS.Signals,
  drainLog: string,
  meanwhile: () => Promise<void> = async () => {},
) {
  const { gg, answer, release } = held;
  gg.child.kill(signal);
  const ready = await eventually(
    "/readyz 503",
    () => admin(gg, "/readyz"),
    (a) => a.status === 503,
  );
  t.match(JSON.parse(ready.text), { status: "draining" }, "/readyz: 503 draining");
  await gg.waitForLog((line) => line.msg === drainLog);
  await eventually(
    "new connections refused",
    () => refused(gg.proxyPort),
    (no) => no,
  );
  t.pass("a new connection to the proxy is refused");
  await meanwhile();
  t.ok(gg.running, "still running while a request is in flight");

  release();
  const result = await answer;
  if (result instanceof Error) return t.fail(`the request in flight was cut off: ${result}`);
  t.equal(result.status, 200, "the request in flight gets its answer");
  const { length } = result.text;
  t.ok(result.text === HELD_BODY, `and its whole body (${length} of ${HELD_BODY.length} bytes)`);
}

/** serve(), then waits for /readyz 200 (with workers: until every one listens). */
export async function serveReady(t: Test, file: string, text: string): Promise<Graygate> {
  const gg = await serve(t, file, text);
  await eventually(
    "/readyz 200",
    () => admin(gg, "/readyz"),
    (a) => a.status === 200,
  );
  return gg;
}

/** The name of the upstream that answers GET / (status 200 or it throws). */
export async function routed(gg: Graygate): Promise<string> {
  const answer = await send(gg, "/");
  if (answer.status !== 200) throw new Error(`GET / answered ${answer.status}: ${answer.text}`);
  return answer.text;
}

/** Waits until GET / is answered by `name`. */
export const routedTo = (gg: Graygate, name: Name) =>
  eventually(
    `GET / reaches ${name}`,
    () => routed(gg),
    (got) => got === name,
  );

/** The hash of the running config, from GET /config. */
export async function configHash(gg: Graygate): Promise<string> {
  return (JSON.parse((await admin(gg, "/config")).text) as { hash: string }).hash;
}

/** Waits until the running config is this text. */
export const runs = (gg: Graygate, text: string) =>
  eventually(
    `the config hash becomes ${sha256(text)}`,
    () => configHash(gg),
    (h) => h === sha256(text),
  );

export interface Reloads {
  success: number | undefined;
  failure: number | undefined;
  /** graygate_config_last_reload_successful */
  ok: number | undefined;
}

/** The reload counters and the last-reload gauge, from GET /metrics. */
export async function reloads(gg: Graygate): Promise<Reloads> {
  const { text } = await admin(gg, "/metrics");
  return {
    success: sample(text, "graygate_config_reloads_total", { result: "success" }),
    failure: sample(text, "graygate_config_reloads_total", { result: "failure" }),
    ok: sample(text, "graygate_config_last_reload_successful"),
  };
}

/** Waits until the reload counters have moved past `before` by at least `by`. */
export const counted = (
  gg: Graygate,
  before: Reloads,
  by: Partial<Record<"success" | "failure", number>>,
) =>
  eventually(
    `reloads counted ${JSON.stringify(by)} since ${JSON.stringify(before)}`,
    () => reloads(gg),
    (now) =>
      (now.success ?? 0) >= (before.success ?? 0) + (by.success ?? 0) &&
      (now.failure ?? 0) >= (before.failure ?? 0) + (by.failure ?? 0),
  );

/** POST /-/reload, with this Authorization header if given; the status and JSON body. */
export async function postReload(gg: Graygate, authorization?: string) {
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  const answer = await send(gg, `${gg.admin}/-/reload`, { method: "POST", headers });
  return {
    status: answer.status,
    body: JSON.parse(answer.text) as { hash?: string; errors?: string[] },
  };
}

/** The log lines for reloads that counted: applied ("config reloaded") or rejected. */
export function reloadLines(gg: Graygate): { applied: LogLine[]; rejected: LogLine[] } {
  const lines = gg.logLines();
  return {
    applied: lines.filter((line) => line.msg === "config reloaded"),
    rejected: lines.filter((line) => String(line.msg).startsWith("config rejected")),
  };
}

// ---------------------------------------------------------------- processes

/** The pids of a process's children (Linux /proc). */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
    return text.split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** The inode of the local TCP socket bound to 127.0.0.1:`port` and connected to `peerPort`. */
function socketInode(port: number, peerPort: number): string | undefined {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const row of readFileSync(table, "utf8").split("\n").slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex(port)}`) && cols[2]?.endsWith(`:${hex(peerPort)}`))
        return cols[9];
    }
  }
  return undefined;
}

/** Which of `pids` holds graygate's end of the connection an upstream request came on. */
export function socketOwner(peer: Peer, pids: readonly number[]): number | undefined {
  const inode = socketInode(peer.port, peer.upstreamPort);
  if (inode === undefined) return undefined;
  return pids.find((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

/**
 * Whether a new TCP connection to `port` is refused (true), or accepted, if
 * only to be reset as the listener closes (false).
 */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}
