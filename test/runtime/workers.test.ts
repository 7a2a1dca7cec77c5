/**
 * `server.workers: 2` (node:cluster): the primary owns the watcher and the
 * admin listener, the two workers proxy. /metrics sums the workers; a config
 * change reaches every worker; a killed worker is replaced (with the running
 * config); SIGTERM drains all and the primary exits 0. Which worker served a
 * request is read from /proc: the owner of the connection the upstream saw.
 */
import { writeFileSync } from "node:fs";
import t, { type Test } from "tap";
import {
  admin,
  alive,
  childrenOf,
  drainsInFlight,
  type Extra,
  eventually,
  type Graygate,
  heldRequest,
  type Name,
  parseSamples,
  postReload,
  renameSave,
  runs,
  type Setup,
  send,
  serveReady,
  setup,
  sleep,
  socketOwner,
} from "./helpers.ts";

/** GET / on a new connection: the upstream that answered and the worker that sent it there. */
async function fresh(gg: Graygate, s: Setup, workers: readonly number[]) {
  const answer = await send(gg, "/", { reset: true });
  if (answer.status !== 200) throw new Error(`GET / answered ${answer.status}: ${answer.text}`);
  const peer = s.peers.at(-1);
  return { name: answer.text, pid: peer === undefined ? undefined : socketOwner(peer, workers) };
}

/** `count` requests on new connections. */
async function batch(gg: Graygate, s: Setup, workers: readonly number[], count: number) {
  const answers = [];
  for (let i = 0; i < count; i++) answers.push(await fresh(gg, s, workers));
  return answers;
}

const everyWorker = (workers: readonly number[], answers: { pid?: number }[]) =>
  workers.every((pid) => answers.some((a) => a.pid === pid));

const allTo = (name: Name, answers: { name: string }[]) => answers.every((a) => a.name === name);

const requestsTotal = async (gg: Graygate) =>
  parseSamples((await admin(gg, "/metrics")).text)
    .filter((s) => s.name === "graygate_requests_total")
    .reduce((sum, s) => sum + s.value, 0);

t.test("two workers: serve, sum metrics, reload all, replace the dead, drain", async (t) => {
  const s = await setup(t, { server: { workers: 2 } });
  const gg = await serveReady(t, s.file, s.good("alpha"));
  const primary = gg.child.pid as number;
  const workers = childrenOf(primary);
  t.equal(workers.length, 2, `the primary has exactly 2 children (${workers.join(", ")})`);

  const first = await batch(gg, s, workers, 20);
  t.ok(allTo("alpha", first), "every request served, by alpha");
  t.ok(everyWorker(workers, first), "both workers served", { pids: first.map((a) => a.pid) });
  const total = await eventually(
    "requests counted",
    () => requestsTotal(gg),
    (n) => n >= 20,
  );
  t.equal(total, 20, "graygate_requests_total is the sum over workers: 20");

  renameSave(s.file, s.good("beta"));
  await runs(gg, s.good("beta"));
  await eventually(
    "both workers route to beta",
    () => batch(gg, s, workers, 10),
    (answers) => allTo("beta", answers) && everyWorker(workers, answers),
  );
  t.ok(allTo("beta", await batch(gg, s, workers, 10)), "and keep doing so");

  const [killed, kept] = workers as [number, number];
  process.kill(killed, "SIGKILL");
  const replaced = await eventually(
    "a replacement worker",
    () => childrenOf(primary),
    (pids) => pids.length === 2 && !pids.includes(killed) && pids.includes(kept),
  );
  const added = replaced.find((pid) => pid !== kept) as number;
  t.pass(`worker ${killed} killed, ${added} replaces it`);
  await eventually(
    "/readyz 200 again",
    () => admin(gg, "/readyz"),
    (a) => a.status === 200,
  );
  const answers = await eventually(
    "the new worker serves",
    () => batch(gg, s, replaced, 4),
    (got) => got.some((a) => a.pid === added),
  );
  t.ok(allTo("beta", answers), "with the running config (beta)", { answers });
  t.equal(childrenOf(primary).length, 2, "still exactly 2 workers");

  gg.child.kill("SIGTERM");
  t.strictSame(await gg.exited, { code: 0, signal: null }, "the primary exits 0");
  await eventually(
    "every worker gone",
    () => replaced.filter(alive),
    (left) => left.length === 0,
  );
  t.ok(
    gg.logLines().some((line) => line.msg === "draining workers"),
    "the primary drained its workers",
  );
});

t.test("two workers: SIGTERM drains a request in flight, then all exit", async (t) => {
  const held = await heldRequest(t, { server: { workers: 2 } });
  const workers = childrenOf(held.gg.child.pid as number);
  t.equal(workers.length, 2, "2 workers");
  await drainsInFlight(t, held, "SIGTERM", "draining workers");
  t.strictSame(await held.gg.exited, { code: 0, signal: null }, "the primary exits 0");
  await eventually(
    "every worker gone",
    () => workers.filter(alive),
    (left) => left.length === 0,
  );
});

/** A cluster whose worker was just killed: its replacement is forked but still starting. */
async function replacing(t: Test, extra: Extra) {
  const s = await setup(t, { server: { workers: 2, ...extra.server } });
  const gg = await serveReady(t, s.file, s.good("alpha"));
  const primary = gg.child.pid as number;
  const [killed, kept] = childrenOf(primary) as [number, number];
  process.kill(killed, "SIGKILL");
  const workers = await eventually(
    "a replacement worker forked",
    () => childrenOf(primary),
    (pids) => pids.length === 2 && !pids.includes(killed),
  );
  return { s, gg, workers, added: workers.find((pid) => pid !== kept) as number };
}

t.test("a config applied while a worker starts reaches that worker too", async (t) => {
  const { s, gg, workers, added } = await replacing(t, {});
  writeFileSync(s.file, s.good("beta"));
  t.equal((await postReload(gg)).status, 200, "beta applied while the new worker boots");
  const answers = await eventually(
    "the new worker serves",
    () => batch(gg, s, workers, 4),
    (got) => got.some((a) => a.pid === added),
  );
  t.strictSame(
    answers.filter((a) => a.pid === added).map((a) => a.name),
    answers.filter((a) => a.pid === added).map(() => "beta"),
    "the new worker routes by the running config (beta)",
  );
});

t.test("SIGTERM while a worker starts: the drain reaches it too", async (t) => {
  // Nothing is in flight: the drain needs none of its 60 s.
  const { gg } = await replacing(t, { server: { drain: "60s" } });
  gg.child.kill("SIGTERM");
  const exit = await Promise.race([gg.exited, sleep(15_000).then(() => "still running")]);
  t.strictSame(
    exit,
    { code: 0, signal: null },
    "the primary exits 0 without waiting out server.drain",
  );
});
