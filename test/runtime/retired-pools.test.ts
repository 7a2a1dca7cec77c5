/**
 * A request keeps the config it started with, pools included: when a reload
 * drops its stable upstream while it waits on the canary, and the canary then
 * fails, its fallback still reaches the old stable (whose pool must not have
 * been closed under it).
 */
import { writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import t from "tap";
import { stringify } from "yaml";
import {
  canaryRoute,
  config,
  send,
  startGraygate,
  startRawUpstream,
  startUpstream,
} from "../proxy/helpers.ts";

t.test("a fallback after a reload reaches the stable of the config it started with", async (t) => {
  const oldStable = await startUpstream(t, (_req, res) => res.end("old stable"));
  const newStable = await startUpstream(t, (_req, res) => res.end("new stable"));
  const held: Socket[] = [];
  let arrived: () => void = () => {};
  const canaryReached = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  // The canary takes the request and holds it; the test resets it later.
  const canary = await startRawUpstream(t, (socket) => {
    socket.once("data", () => {
      held.push(socket);
      arrived();
    });
  });
  const before = config([canaryRoute("r", oldStable.url, canary.url)]);
  const gg = await startGraygate(t, before);

  const answer = send(gg, "/", { headers: { "x-canary": "always" } });
  await canaryReached;
  writeFileSync(gg.file, stringify(config([canaryRoute("r", newStable.url, canary.url)])));
  const reload = await (await fetch(`${gg.admin}/-/reload`, { method: "POST" })).json();
  t.type((reload as { hash?: string }).hash, "string", "the new config is running");
  t.equal((await send(gg, "/")).text, "new stable", "new requests use the new stable");

  for (const socket of held) socket.resetAndDestroy();
  const fellBack = await answer;
  t.equal(fellBack.status, 200);
  t.equal(fellBack.text, "old stable", "the held request fell back within its own config");
  t.equal(fellBack.headers["x-graygate-version"], "stable");
});
