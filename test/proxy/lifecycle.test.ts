/** The README's command table and docs/OPERATIONS.md: serve's exit codes, and a SIGTERM that drains. */
import t from "tap";
import {
  admin,
  canaryRoute,
  config,
  run,
  send,
  startEcho,
  startGraygate,
  startUpstream,
  writeConfig,
} from "./helpers.ts";

t.test("serve with an invalid config exits 1 with FILE:LINE:COL: errors", async (t) => {
  const file = writeConfig(
    t,
    [
      'server: { listen: "127.0.0.1:0" }',
      "upstreams:",
      '  a: { targets: ["http://127.0.0.1:1"] }',
      "routes:",
      "  - name: r",
      "    versions: { stable: a }",
      "    rules:",
      "      - { name: x, to: canary }",
      "",
    ].join("\n"),
  );
  const proc = run(t, ["serve", "-c", file]);
  const exit = await proc.exited;
  t.equal(exit.code, 1, "exit 1", { stderr: proc.stderr });
  t.match(proc.stderr, `${file}:8:24: routes[0].rules[0].to: `);
  for (const line of proc.stderr.trim().split("\n")) {
    t.match(line, /^.+:\d+:\d+: /, "each line is FILE:LINE:COL:");
  }
  t.notMatch(proc.stdout, "graygate serving");
});

t.test("SIGTERM: exit 0", async (t) => {
  const echo = await startEcho(t, "stable");
  const gg = await startGraygate(t, config([canaryRoute("web", echo.url, echo.url)]));
  t.equal((await send(gg, "/")).status, 200);
  const exit = await gg.stop();
  t.strictSame(exit, { code: 0, signal: null });
  t.ok(
    gg.logLines().some((line) => line.msg === "stopped"),
    "it says it stopped",
  );
});

t.test("SIGTERM: readyz 503, a request in flight finishes, then exit 0", async (t) => {
  let release = () => {};
  let arrived = () => {};
  const arrival = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const held = await startUpstream(t, (_req, res) => {
    release = () => res.end("finished");
    arrived();
  });
  const gg = await startGraygate(t, config([canaryRoute("web", held.url, held.url)]));
  const answer = send(gg, "/");
  await arrival;
  gg.child.kill("SIGTERM");
  await gg.waitForLog((line) => line.msg === "draining");
  t.equal((await admin(gg, "/readyz")).status, 503, "not ready while draining");
  release();
  const { status, text } = await answer;
  t.equal(status, 200);
  t.equal(text, "finished");
  t.equal((await gg.exited).code, 0);
});
