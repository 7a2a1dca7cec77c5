/**
 * docs/OPERATIONS.md (reload) and docs/METRICS.md: a bad file is logged with its located errors and the old
 * config keeps serving; graygate_config_last_reload_successful goes to 0 and
 * the failure is counted; fixing the file applies it and counts a success.
 */
import t, { type Test } from "tap";
import {
  badYaml,
  counted,
  reloads,
  renameSave,
  routed,
  routedTo,
  type Setup,
  serve,
  setup,
  unknownKey,
} from "./helpers.ts";

async function rejectedThenFixed(t: Test, bad: (s: Setup) => { text: string; at: string }) {
  const s = await setup(t);
  const gg = await serve(t, s.file, s.good("alpha"));
  const { text, at } = bad(s);
  const before = await reloads(gg);
  t.match(before, { success: 0, failure: 0, ok: 1 }, "nothing counted at start");

  renameSave(s.file, text);
  const after = await counted(gg, before, { failure: 1 });
  t.match(after, { success: 0, failure: 1, ok: 0 }, "one failure counted, last reload not ok");
  t.equal(await routed(gg), "alpha", "the old config keeps serving");
  const line = await gg.waitForLog((l) => l.level === "error" && Array.isArray(l.errors));
  const errors = line.errors as string[];
  t.ok(
    errors.some((e) => e.startsWith(`${s.file}:${at}: `)),
    `an error at ${s.file}:${at}:`,
    { errors },
  );
  for (const error of errors) t.match(error, /^.+:\d+:\d+: /, "FILE:LINE:COL:");
  t.ok(gg.running, "graygate still runs");

  renameSave(s.file, s.good("beta"));
  await routedTo(gg, "beta");
  t.match(await reloads(gg), { success: 1, failure: 1, ok: 1 }, "the fix counts a success");
}

t.test("bad YAML keeps the old config", (t) =>
  rejectedThenFixed(t, (s) => badYaml(s.good("beta"))),
);

t.test("a schema-invalid file (unknown key) keeps the old config", (t) =>
  rejectedThenFixed(t, (s) => unknownKey(s.good("beta"))),
);
