/**
 * docs/OPERATIONS.md, "How reload works": on SIGTERM or SIGINT graygate turns /readyz 503, stops accepting,
 * lets the request in flight finish (its whole body) within server.drain and
 * exits 0; a second signal during the drain exits at once with status 1. The
 * upstream holds the request until the test has seen all that, so nothing
 * depends on timing.
 */
import t from "tap";
import { drainsInFlight, heldRequest, sleep } from "./helpers.ts";

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  t.test(
    `${signal}: readyz 503, no new connections, the request in flight finishes, exit 0`,
    async (t) => {
      const held = await heldRequest(t);
      await drainsInFlight(t, held, signal, "draining");
      t.strictSame(await held.gg.exited, { code: 0, signal: null }, "exit 0");
    },
  );
}

t.test("a SIGHUP during the drain neither ends graygate nor cuts the request off", async (t) => {
  const held = await heldRequest(t);
  await drainsInFlight(t, held, "SIGTERM", "draining", async () => {
    held.gg.child.kill("SIGHUP");
    await sleep(300); // a signal's default action would have ended it by now
  });
  t.strictSame(await held.gg.exited, { code: 0, signal: null }, "exit 0");
});

t.test("past server.drain, a request still in flight is cut off, and exit 0", async (t) => {
  const { gg, answer } = await heldRequest(t, { server: { drain: "500ms" } });
  gg.child.kill("SIGTERM");
  t.strictSame(await gg.exited, { code: 0, signal: null }, "exit 0, the upstream never answered");
  t.type(await answer, Error, "the request in flight was cut off");
});

t.test("a second SIGTERM during the drain exits at once with status 1", async (t) => {
  const { gg, answer } = await heldRequest(t);
  gg.child.kill("SIGTERM");
  await gg.waitForLog((line) => line.msg === "draining");
  gg.child.kill("SIGTERM");
  t.strictSame(await gg.exited, { code: 1, signal: null }, "exit 1, the request still held");
  t.match(gg.stderr, "second SIGTERM");
  t.type(await answer, Error, "the request in flight was cut off");
});
