/**
 * The admin API and docs/METRICS.md against the real tools: a real Prometheus server scrapes
 * graygate's admin listener (one process, then `server.workers: 2`) and its
 * query API sums graygate_requests_total by version to exactly the traffic
 * sent; promtool lints the /metrics text. Prometheus asks for OpenMetrics, so
 * the last tests check that both formats name the counters alike in any
 * order of scrapes. The parts needing a binary are skipped (with the reason)
 * when it is not on PATH.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import t, { type Test } from "tap";
import { Agent, request } from "undici";
import { stringify } from "yaml";
import {
  admin,
  canaryRoute,
  config,
  type Graygate,
  send,
  startEcho,
  startGraygate,
  tempDir,
} from "../proxy/helpers.ts";

/** The full path of an executable on PATH, or undefined. */
function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

const PROMETHEUS = onPath("prometheus");
const PROMTOOL = onPath("promtool");
const JOB = "graygate";
const CANARY = 30;
const STABLE = 50;
/** How long Prometheus may take to start, and then to have scraped the traffic. */
const DEADLINE_MS = 30_000;

// ---------------------------------------------------------------- graygate and its traffic

/**
 * A graygate (with `server` settings, e.g. workers) on two echo upstreams,
 * after 30 requests to canary (x-canary: always) and 50 to stable.
 */
async function trafficked(t: Test, server: object = {}) {
  const stable = await startEcho(t, "stable");
  const canary = await startEcho(t, "canary");
  const gg = await startGraygate(
    t,
    config([canaryRoute("shop", stable.url, canary.url)], { server }),
  );
  const served: string[] = [];
  for (let i = 0; i < CANARY; i++) {
    const answer = await send(gg, `/c/${i}`, { headers: { "x-canary": "always" } });
    served.push(`${answer.status} ${answer.headers["x-graygate-version"]}`);
  }
  for (let i = 0; i < STABLE; i++) {
    const answer = await send(gg, `/s/${i}`);
    served.push(`${answer.status} ${answer.headers["x-graygate-version"]}`);
  }
  t.strictSame(
    served,
    [...Array<string>(CANARY).fill("200 canary"), ...Array<string>(STABLE).fill("200 stable")],
    "the traffic: 30 answered by canary, 50 by stable",
  );
  t.equal(canary.seen.length, CANARY, "the canary upstream saw 30");
  t.equal(stable.seen.length, STABLE, "the stable upstream saw 50");
  return gg;
}

// ---------------------------------------------------------------- Prometheus

interface Prometheus {
  readonly url: string;
}

/** A loopback port that was free a moment ago: bound on port 0, then closed. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** GET url: status and body text, or undefined when nothing answers (yet). */
async function get(
  agent: Agent,
  url: string,
): Promise<{ status: number; text: string } | undefined> {
  try {
    const response = await request(url, { dispatcher: agent });
    return { status: response.statusCode, text: await response.body.text() };
  } catch {
    return undefined;
  }
}

/** A child process and the moment it is gone (its output read to the end). */
function spawned(command: string, args: readonly string[]) {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  const state = { child, stderr: "", gone: false, error: undefined as Error | undefined };
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    state.stderr += chunk;
  });
  child.once("error", (error) => {
    state.error = error;
  });
  const closed = new Promise<void>((resolve) =>
    child.once("close", () => {
      state.gone = true;
      resolve();
    }),
  );
  return Object.assign(state, { closed });
}

/** Stops a spawned child (SIGTERM, then SIGKILL after 10 s) and waits for it to be gone. */
async function stopChild(proc: ReturnType<typeof spawned>): Promise<void> {
  if (proc.gone || proc.child.pid === undefined) return;
  proc.child.kill("SIGTERM");
  const kill = setTimeout(() => proc.child.kill("SIGKILL"), 10_000);
  await proc.closed;
  clearTimeout(kill);
}

/**
 * Runs `prometheus` on a free loopback port with this config, stopped at
 * teardown, and waits for GET /-/ready to answer 200. A port taken between
 * the probe and Prometheus' bind is retried once, on another port.
 */
async function startPrometheus(t: Test, agent: Agent, dir: string, configFile: string) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawned(PROMETHEUS as string, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--web.enable-lifecycle",
    ]);
    t.teardown(() => stopChild(proc));

    const deadline = Date.now() + DEADLINE_MS;
    while (Date.now() < deadline && !proc.gone && proc.error === undefined) {
      const ready = await get(agent, `${url}/-/ready`);
      if (ready?.status === 200) return { url };
      await sleep(100);
    }
    if (proc.error !== undefined) throw proc.error;
    if (proc.gone && attempt === 1 && /address already in use/.test(proc.stderr)) continue;
    await stopChild(proc);
    throw new Error(
      `prometheus did not become ready on ${url} (exit ${proc.child.exitCode}):\n${proc.stderr}`,
    );
  }
}

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query: the result vector, or undefined while the API cannot answer. */
async function query(agent: Agent, prometheus: Prometheus, promql: string) {
  const answer = await get(
    agent,
    `${prometheus.url}/api/v1/query?${new URLSearchParams({ query: promql })}`,
  );
  if (answer?.status !== 200) return undefined;
  const body = JSON.parse(answer.text) as {
    status: string;
    data?: { resultType: string; result: Series[] };
  };
  return body.status === "success" && body.data?.resultType === "vector"
    ? body.data.result
    : undefined;
}

/** Polls `promql` until `done` holds for its result, up to DEADLINE_MS; the last result. */
async function poll(
  agent: Agent,
  prometheus: Prometheus,
  promql: string,
  done: (result: Series[]) => boolean,
): Promise<Series[] | undefined> {
  const deadline = Date.now() + DEADLINE_MS;
  let last: Series[] | undefined;
  while (Date.now() < deadline) {
    last = await query(agent, prometheus, promql);
    if (last !== undefined && done(last)) return last;
    await sleep(250);
  }
  return last;
}

/** version → value, from a `sum by (version)` result. */
const byVersion = (result: Series[] | undefined): Record<string, string> =>
  Object.fromEntries((result ?? []).map((s) => [s.metric.version ?? "", s.value[1]]));

const NO_PROMETHEUS = "prometheus is not installed (apt-get install prometheus)";
const NO_PROMTOOL = "promtool is not installed (apt-get install prometheus)";

/** A real Prometheus scrapes this graygate's admin listener: the sums by version and `up`. */
async function scrapedByPrometheus(t: Test, gg: Graygate) {
  const dir = tempDir(t);
  const agent = new Agent({ keepAliveTimeout: 1000 });
  t.teardown(() => agent.destroy());
  const target = new URL(gg.admin).host;
  const configFile = join(dir, "prometheus.yml");
  writeFileSync(
    configFile,
    stringify({
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      scrape_configs: [{ job_name: JOB, static_configs: [{ targets: [target] }] }],
    }),
  );
  const prometheus = await startPrometheus(t, agent, dir, configFile);

  const want = { stable: String(STABLE), canary: String(CANARY) };
  const promql = "sum by (version) (graygate_requests_total)";
  const result = await poll(
    agent,
    prometheus,
    promql,
    (r) =>
      r.length === 2 && byVersion(r).stable === want.stable && byVersion(r).canary === want.canary,
  );
  // On failure, what Prometheus does have under a graygate_requests* name.
  const names = await get(agent, `${prometheus.url}/api/v1/label/__name__/values`);
  const requestNames =
    names === undefined
      ? undefined
      : (JSON.parse(names.text) as { data: string[] }).data.filter((n) =>
          n.startsWith("graygate_requests"),
        );
  t.equal(result?.length, 2, `${promql}: two series`, { result, requestNames });
  t.strictSame(byVersion(result), want, `${promql}: stable 50, canary 30`, { result });

  const up = await query(agent, prometheus, `up{job="${JOB}"} == 1`);
  const targets = await get(agent, `${prometheus.url}/api/v1/targets`);
  t.equal(up?.length, 1, `up{job="${JOB}"} == 1: one target up`, { up, targets: targets?.text });
  t.equal(up?.[0]?.metric.instance, target, "the target is graygate's admin listener");
  t.equal(up?.[0]?.value[1], "1");
}

/** `promtool check metrics` with `text` on stdin: exit code and everything it printed. */
async function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(PROMTOOL as string, ["check", "metrics"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  const exit = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  child.stdin.end(text);
  return { code: await exit, output };
}

t.test(
  "a real Prometheus scrapes graygate and sums requests by version",
  { skip: PROMETHEUS === undefined ? NO_PROMETHEUS : false },
  async (t) => scrapedByPrometheus(t, await trafficked(t)),
);

t.test(
  "a real Prometheus sums the same with server.workers: 2",
  { skip: PROMETHEUS === undefined ? NO_PROMETHEUS : false },
  async (t) => scrapedByPrometheus(t, await trafficked(t, { workers: 2 })),
);

t.test(
  "promtool check metrics accepts graygate's /metrics",
  { skip: PROMTOOL === undefined ? NO_PROMTOOL : false },
  async (t) => {
    const gg = await trafficked(t);
    // Prometheus text format, as a plain scraper (or curl) gets it.
    const metrics = await admin(gg, "/metrics");
    t.equal(metrics.status, 200);
    t.match(metrics.text, /^graygate_requests_total\{/m, "the text has request samples");

    const { code, output } = await promtoolCheck(metrics.text);
    const problems = output.split("\n").filter((line) => line.trim() !== "");
    t.strictSame(
      problems.filter((line) => line.startsWith("graygate_")),
      [],
      "no lint problem in graygate's own metrics",
    );
    t.equal(code, 0, "promtool check metrics exits 0", { output });
  },
);

// ---------------------------------------------------------------- both formats, either order

/** The sample names of graygate_requests_total's family in a metrics text. */
const requestSampleNames = (text: string) => [
  ...new Set(
    text
      .split("\n")
      .filter((line) => line.startsWith("graygate_requests"))
      .map((line) => line.slice(0, line.search(/[{ ]/))),
  ),
];

for (const workers of [1, 2]) {
  t.test(
    `workers: ${workers}: text and OpenMetrics name the counter graygate_requests_total, in any order`,
    async (t) => {
      const gg = await trafficked(t, { workers });
      const openMetrics = "application/openmetrics-text;version=1.0.0";
      const sequence: [string, string | undefined][] = [
        ["text", undefined],
        ["OpenMetrics", openMetrics],
        ["text after OpenMetrics", undefined],
        ["OpenMetrics again", openMetrics],
      ];
      for (const [what, accept] of sequence) {
        const answer = await admin(gg, "/metrics", accept === undefined ? {} : { accept });
        t.equal(answer.status, 200, `${what}: 200`);
        t.strictSame(
          requestSampleNames(answer.text),
          ["graygate_requests_total"],
          `${what}: samples are graygate_requests_total`,
        );
        if (accept !== undefined) {
          t.match(
            answer.text,
            /^# TYPE graygate_requests counter$/m,
            `${what}: family graygate_requests`,
          );
        }
      }
    },
  );
}
