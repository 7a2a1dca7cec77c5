/**
 * What nginx does with each case of the smuggling corpus (test/edge/corpus.ts),
 * as a reference for graygate's answers. A raw TCP upstream records every byte
 * nginx sends it and answers each request with 200 "ok"; Debian's nginx runs
 * in front of it with a keep-alive upstream pool. Each case is sent on its own
 * connection, in one write, between a good request and a "smuggled" one:
 *
 *   GET /good … + case + GET /smuggled …
 *
 * and the answers nginx gave, whether it closed, and whether the upstream
 * received the case or the smuggled request are recorded.
 *
 *   node scripts/compare-nginx.ts > nginx-corpus.json 2> nginx-corpus.md
 *
 * stdout: a JSON array of {name, class, statuses, closed, forwardedCase,
 * forwardedSmuggled}; stderr: a Markdown summary per class.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CORPUS, type CorpusCase } from "../test/edge/corpus.ts";

const NGINX = "/usr/sbin/nginx";
const GOOD = "GET /good HTTP/1.1\r\nHost: api.test\r\n\r\n";
const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: api.test\r\n\r\n";
/** How long a reply is collected when nginx keeps the connection open. */
const WAIT_MS = 1500;
/** After the three answers a forwarded case gets, how long to wait for anything more. */
const QUIET_MS = 150;
const ANSWER = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

interface Result {
  name: string;
  class: CorpusCase["class"];
  statuses: number[];
  closed: boolean;
  forwardedCase: boolean;
  forwardedSmuggled: boolean;
}

/** What the upstream received while one case ran. */
interface Window {
  /** Every byte, per upstream connection (latin1). */
  bytes: Map<number, string>;
  /** The request line of each request it parsed and answered. */
  requests: string[];
}

// ---------------------------------------------------------------- upstream

/**
 * Where the request starting at `from` ends (just past its body), or -1 when
 * it has not all arrived. nginx frames what it sends with Content-Length or
 * chunked; anything else is taken to have no body.
 */
function requestEnd(text: string, from: number): number {
  const headEnd = text.indexOf("\r\n\r\n", from);
  if (headEnd === -1) return -1;
  const head = text.slice(from, headEnd);
  let at = headEnd + 4;
  const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
  if (length !== null) {
    at += Number(length[1]);
    return at <= text.length ? at : -1;
  }
  if (!/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) return at;
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd === -1) return -1;
    const size = Number.parseInt(text.slice(at, lineEnd), 16);
    if (Number.isNaN(size)) return text.length;
    at = lineEnd + 2;
    if (size === 0) {
      // Trailer fields, then the blank line.
      const end = text.indexOf("\r\n\r\n", lineEnd);
      return end === -1 ? -1 : end + 4;
    }
    at += size + 2;
    if (at > text.length) return -1;
  }
}

/** A raw TCP upstream that records what it receives in `window.current` and answers each request. */
async function startUpstream(window: { current: Window }) {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    const id = connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let pending = "";
    socket.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1");
      const bytes = window.current.bytes;
      bytes.set(id, (bytes.get(id) ?? "") + text);
      pending += text;
      for (;;) {
        const end = requestEnd(pending, 0);
        if (end === -1) break;
        window.current.requests.push(pending.slice(0, pending.indexOf("\r\n")));
        pending = pending.slice(end);
        socket.write(ANSWER);
      }
    });
  });
  await listen(server);
  return { server, sockets, port: (server.address() as AddressInfo).port };
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
}

/** A loopback port nothing listens on (just bound and closed). */
async function freePort(): Promise<number> {
  const server = createServer();
  await listen(server);
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------- nginx

interface Nginx {
  child: ChildProcess;
  exited: Promise<void>;
  running: () => boolean;
}

function nginxConfig(dir: string, port: number, upstreamPort: number): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream u {
    server 127.0.0.1:${upstreamPort};
    keepalive 8;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://u;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

async function startNginx(dir: string, port: number, upstreamPort: number): Promise<Nginx> {
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, port, upstreamPort));
  // -e: the error log before the config is read (the default one may not be writable).
  const child = spawn(NGINX, ["-p", `${dir}/`, "-c", conf, "-e", join(dir, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  let done = false;
  const exited = new Promise<void>((resolve) =>
    child.on("close", () => {
      done = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 5000;
  while (!(await accepts(port))) {
    if (done || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`nginx did not start:\n${stderr}`);
    }
    await sleep(50);
  }
  return { child, exited, running: () => !done };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

async function stopNginx(nginx: Nginx): Promise<void> {
  if (!nginx.running()) return;
  nginx.child.kill("SIGTERM");
  const kill = setTimeout(() => nginx.child.kill("SIGKILL"), 3000);
  await nginx.exited;
  clearTimeout(kill);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- client

/** The statuses of the responses in `text`, in order, each read to the end of its body. */
function responseStatuses(text: string): { statuses: number[]; complete: number } {
  const statuses: number[] = [];
  let complete = 0;
  let at = 0;
  while (at < text.length) {
    const status = /^HTTP\/\d\.\d (\d{3})/.exec(text.slice(at, at + 16));
    if (status === null) break;
    const code = Number(status[1]);
    statuses.push(code);
    const end = requestEnd(text, at);
    // 1xx and responses with no framing end at their head; requestEnd says so too.
    if (end === -1) break;
    if (code >= 200) complete++;
    at = end;
  }
  return { statuses, complete };
}

/** Sends `bytes` in one write; the reply until nginx closes or WAIT_MS passes. */
function exchange(port: number, bytes: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    let closed = false;
    let quiet: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => socket.destroy(), WAIT_MS);
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      clearTimeout(quiet);
      if (responseStatuses(text).complete >= 3) {
        quiet = setTimeout(() => socket.destroy(), QUIET_MS);
      }
    });
    socket.on("end", () => {
      closed = true;
    });
    socket.on("error", () => {
      closed = true;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      clearTimeout(quiet);
      resolve({ text, closed });
    });
    socket.write(Buffer.from(bytes, "latin1"));
  });
}

/** The case's own path (without query or odd bytes), as the upstream would see it; undefined if none. */
function caseMarker(bytes: string): string | undefined {
  const line = bytes.replace(/^\r\n/, "").split(/[\r\n]/, 1)[0] ?? "";
  const target = (line.split(/[ \t]+/)[1] ?? "").replace(/^https?:\/\/[^/]*/, "");
  const path = /^\/[A-Za-z0-9/_.~-]*/.exec(target)?.[0];
  return path !== undefined && path.length > 2 ? path : undefined;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function forwardedCase(window: Window, marker: string | undefined): boolean {
  const others = window.requests.filter((line) => !/^GET \/(good|smuggled) /.test(line));
  if (others.length > 0) return true;
  if (marker === undefined) return false;
  const pattern = new RegExp(`${escapeRegExp(marker)}(?![A-Za-z0-9/_.~-])`);
  return [...window.bytes.values()].some((text) => pattern.test(text));
}

// ---------------------------------------------------------------- report

/** A result with what the report needs besides the JSON: the upstream's request lines. */
interface Observed extends Result {
  upstream: string[];
}

interface Verdict {
  /** nginx did what the corpus says graygate must (refused with the same status, or forwarded). */
  agrees: boolean;
  /** nginx's final answer to the case itself: its second final status. */
  caseStatus: number | undefined;
  /** Signs that nginx read the bytes another way than a strict parser: each a short phrase. */
  notes: string[];
}

/** What nginx did with a case, against what the corpus says graygate must do. */
function verdict(c: CorpusCase, r: Observed): Verdict {
  const finals = r.statuses.filter((s) => s >= 200);
  const caseStatus = finals[1];
  const notes: string[] = [];
  if (r.statuses[0] !== 200) notes.push("the good request was not answered first");
  const error = finals.findIndex((s) => s >= 400);
  if (error !== -1 && finals.slice(error + 1).some((s) => s < 400)) {
    notes.push("answered again after an error");
  }
  if (finals.length > 3) notes.push(`${finals.length} answers to 3 requests`);
  if (!r.closed && finals.length < 3) notes.push("left waiting: took what followed for a body");
  if (r.closed && finals.length === 1 && r.forwardedCase) {
    notes.push("answered the case without a status line (as HTTP/0.9)");
  }
  if (finals.length === 3 && finals[1] === 200 && (finals[2] ?? 0) >= 400) {
    notes.push("forwarded the case, then refused what followed it (its body, read as a request?)");
  }
  const smuggledLine = r.upstream.some((line) => / \/smuggled /.test(line));
  if (r.forwardedSmuggled && !smuggledLine) notes.push("/smuggled went upstream inside a body");
  const marker = caseMarker(c.bytes);
  const inner = r.upstream.filter(
    (line) =>
      !/^GET \/(good|smuggled) /.test(line) && (marker === undefined || !line.includes(marker)),
  );
  if (inner.length > 0) notes.push(`the upstream also got \`${inner.join("`, `")}\``);
  let agrees: boolean;
  if (c.expect === "forward") {
    agrees = r.forwardedCase && caseStatus !== undefined && caseStatus < 400;
  } else {
    agrees = caseStatus === c.expect && !r.forwardedCase && !r.forwardedSmuggled;
  }
  return { agrees, caseStatus, notes };
}

const cell = (text: string) => text.replaceAll("|", "\\|");
const yes = (flag: boolean) => (flag ? "yes" : "no");

function markdown(results: Observed[], crashes: string[]): string {
  const byName = new Map(CORPUS.map((c) => [c.name, c]));
  const classes = [...new Set(CORPUS.map((c) => c.class))];
  const out: string[] = [
    `# nginx ${nginxVersion()} and the smuggling corpus`,
    "",
    "Each case sent on its own connection, in one write, between `GET /good` and `GET /smuggled`;",
    "nginx proxies to a keep-alive upstream pool (`proxy_http_version 1.1`). “graygate refuses”",
    "and “graygate forwards” are the corpus's expectations.",
    "",
    "| class | cases | nginx refused the case | same answer as graygate | nginx forwarded what graygate refuses | …and /smuggled with it | nginx refused what graygate forwards | desync signs |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const details: string[] = [];
  const smuggledAfter: string[] = [];
  const oddities: string[] = [];
  for (const name of classes) {
    const rows = results.filter((r) => r.class === name);
    const counts = { refused: 0, same: 0, lenient: 0, smuggled: 0, strict: 0, signs: 0 };
    const lines: string[] = [];
    for (const r of rows) {
      const c = byName.get(r.name) as CorpusCase;
      const v = verdict(c, r);
      const refused = v.caseStatus !== undefined && v.caseStatus >= 400;
      if (refused) counts.refused++;
      if (v.agrees) counts.same++;
      if (c.expect !== "forward" && r.forwardedCase) counts.lenient++;
      if (c.expect !== "forward" && r.forwardedSmuggled) {
        counts.smuggled++;
        smuggledAfter.push(`${c.name} (${name})`);
      }
      if (c.expect === "forward" && !r.forwardedCase) counts.strict++;
      if (v.notes.length > 0) {
        counts.signs++;
        oddities.push(`- ${cell(c.name)} (${name}): ${v.notes.join("; ")}`);
      }
      if (!v.agrees || v.notes.length > 0) {
        lines.push(
          `| ${cell(c.name)} | ${c.expect} | ${r.statuses.join(", ") || "none"} | ${yes(r.closed)} | ${yes(r.forwardedCase)} | ${yes(r.forwardedSmuggled)} | ${v.notes.join("; ")} |`,
        );
      }
    }
    out.push(
      `| ${name} | ${rows.length} | ${counts.refused} | ${counts.same} | ${counts.lenient} | ${counts.smuggled} | ${counts.strict} | ${counts.signs} |`,
    );
    if (lines.length > 0) {
      details.push(
        `## ${name}: where nginx differs from graygate`,
        "",
        "| case | graygate | nginx's statuses | nginx closed | case forwarded | /smuggled forwarded | notes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        ...lines,
        "",
      );
    }
  }
  out.push("");
  out.push(
    crashes.length > 0
      ? `**nginx exited during:** ${crashes.join(", ")}.`
      : "nginx did not crash on any case.",
    "",
  );
  out.push(
    `**/smuggled reached the upstream after a case graygate refuses** (nginx took the case for valid and went on; ${smuggledAfter.length}): ${smuggledAfter.join(", ") || "none"}.`,
    "",
  );
  out.push("**Out of order, extra answers and other desync signs:**", "", ...oddities, "");
  out.push(...details);
  return out.join("\n");
}

function nginxVersion(): string {
  try {
    const { stderr } = spawnSync(NGINX, ["-v"], { encoding: "utf8" });
    return /nginx\/(\S+)/.exec(stderr)?.[1] ?? "";
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (!existsSync(NGINX)) {
    process.stderr.write(`${NGINX} is not installed: nothing compared (apt-get install nginx).\n`);
    process.stdout.write("[]\n");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "graygate-nginx-"));
  for (const sub of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
    mkdirSync(join(dir, sub));
  }
  const window = { current: { bytes: new Map(), requests: [] } as Window };
  const upstream = await startUpstream(window);
  const port = await freePort();
  let nginx: Nginx | undefined;
  const cleanUp = async () => {
    if (nginx !== undefined) await stopNginx(nginx);
    for (const socket of upstream.sockets) socket.destroy();
    await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  const interrupted = () => {
    void cleanUp().then(() => process.exit(130));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  const results: Observed[] = [];
  const crashes: string[] = [];
  try {
    nginx = await startNginx(dir, port, upstream.port);
    for (const c of CORPUS) {
      window.current = { bytes: new Map(), requests: [] };
      const reply = await exchange(port, `${GOOD}${c.bytes}${SMUGGLED}`);
      // Let what nginx still sends upstream arrive before the window closes.
      await sleep(50);
      const seen = window.current;
      const all = [...seen.bytes.values()].join("");
      results.push({
        name: c.name,
        class: c.class,
        statuses: responseStatuses(reply.text).statuses,
        closed: reply.closed,
        forwardedCase: forwardedCase(seen, caseMarker(c.bytes)),
        forwardedSmuggled: all.includes("/smuggled"),
        upstream: seen.requests,
      });
      if (!nginx.running()) {
        crashes.push(c.name);
        const log = readFileSync(join(dir, "error.log"), "utf8").split("\n").slice(-5).join("\n");
        process.stderr.write(`nginx exited during "${c.name}":\n${log}\n`);
        nginx = await startNginx(dir, port, upstream.port);
      }
    }
  } finally {
    process.removeListener("SIGINT", interrupted);
    process.removeListener("SIGTERM", interrupted);
    await cleanUp();
  }
  const json = results.map(({ upstream: _, ...result }): Result => result);
  process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  process.stderr.write(`${markdown(results, crashes)}\n`);
}

await main();
