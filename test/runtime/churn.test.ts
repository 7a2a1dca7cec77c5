/**
 * docs/OPERATIONS.md, "How reload works": reloads swap the config atomically under load. Sixty reloads,
 * good and bad, by in-place write, rename-save and POST /-/reload, while six
 * keep-alive clients send requests the whole time: not one request fails,
 * the upstreams' connection pools outlive the reloads, and the reload
 * counters agree with the reloads graygate logged.
 */
import { writeFileSync } from "node:fs";
import t from "tap";
import { Client } from "undici";
import {
  badYaml,
  counted,
  eventually,
  NAMES,
  type Name,
  postReload,
  reloadLines,
  reloads,
  renameSave,
  runs,
  serve,
  setup,
  sha256,
  unknownKey,
} from "./helpers.ts";

const STEPS = 60;
const CLIENTS = 6;

t.test("60 reloads under keep-alive load: no failed request, counters add up", async (t) => {
  const s = await setup(t);
  const gg = await serve(t, s.file, s.good("alpha"));
  const variants = [
    { text: s.good("beta"), good: true },
    { text: badYaml(s.good("gamma")).text, good: false },
    { text: s.good("gamma"), good: true },
    { text: unknownKey(s.good("beta")).text, good: false },
    { text: s.good("alpha"), good: true },
  ];

  let running = true;
  const failures: string[] = [];
  const served = NAMES.map(() => 0);
  const load = async (client: Client) => {
    let count = 0;
    while (running) {
      try {
        const { statusCode, body } = await client.request({ path: "/", method: "GET" });
        const text = await body.text();
        const index = NAMES.indexOf(text as Name);
        if (statusCode !== 200 || index === -1) failures.push(`${statusCode} ${text}`);
        else served[index] = (served[index] as number) + 1;
      } catch (error) {
        failures.push(String(error));
      }
      count++;
    }
    return count;
  };
  const clients = Array.from({ length: CLIENTS }, () => new Client(gg.proxy, { pipelining: 1 }));
  t.teardown(() => Promise.all(clients.map((client) => client.destroy())));
  const loads = clients.map(load);

  let posts = 0;
  for (let step = 0; step < STEPS; step++) {
    const { text, good } = variants[step % variants.length] as (typeof variants)[number];
    const before = await reloads(gg);
    if (step % 3 === 2) {
      writeFileSync(s.file, text);
      const answer = await postReload(gg);
      posts++;
      if (good) t.strictSame(answer, { status: 200, body: { hash: sha256(text) } }, `step ${step}`);
      else t.equal(answer.status, 400, `step ${step}: POST of a bad file is 400`);
    } else {
      if (step % 3 === 0) writeFileSync(s.file, text);
      else renameSave(s.file, text);
      if (good) await runs(gg, text);
      else await counted(gg, before, { failure: 1 });
    }
  }
  running = false;
  const requests = await Promise.all(loads);

  t.strictSame(failures, [], "no request failed");
  t.ok(
    requests.every((n) => n > 0),
    `every client was served (${requests.join(", ")} requests)`,
  );
  t.ok(
    served.every((n) => n > 0),
    `every upstream served (${served.join(", ")})`,
  );
  for (const name of NAMES) {
    const connections = new Set(s.peers.filter((p) => p.name === name).map((p) => p.port)).size;
    t.ok(
      connections <= CLIENTS,
      `${name} kept its pool: ${connections} connections, ${STEPS} reloads`,
    );
  }

  // Every reload that counted is logged once; wait for the lines to arrive.
  const { end, lines } = await eventually(
    "a log line for each counted reload",
    async () => ({ end: await reloads(gg), lines: reloadLines(gg) }),
    ({ end, lines }) =>
      lines.applied.length === end.success && lines.rejected.length === end.failure,
  );
  const all = [...lines.applied, ...lines.rejected];
  const byApi = all.filter((line) => line.trigger === "api").length;
  const byWatch = all.filter((line) => line.trigger === "watch").length;
  t.equal(byApi, posts, "one counted reload per POST /-/reload");
  t.equal(
    (end.success ?? 0) + (end.failure ?? 0),
    posts + byWatch,
    "success + failure = POSTs + watch",
  );
  t.ok(byWatch >= STEPS - posts, `each watched change counted (${byWatch} watch reloads)`);
  t.equal(end.ok, 1, "the last reload (a good file) succeeded");
});
