/**
 * docs/OPERATIONS.md, "How reload works": the file is watched, and every way a file gets replaced applies
 * the new config: in-place writes, editor rename-saves, delete and re-create,
 * and the Kubernetes ConfigMap `..data` symlink swap. Each mode changes the
 * file twice (a watch on the file itself would lose track after the first).
 */
import { unlinkSync, writeFileSync } from "node:fs";
import t, { type Test } from "tap";
import {
  configMap,
  type Graygate,
  type Name,
  reloads,
  renameSave,
  routed,
  routedTo,
  runs,
  type Setup,
  serve,
  setup,
  sleep,
} from "./helpers.ts";

/** Replaces the config with `text`; `gg` is the graygate running the previous one. */
type Mode = (s: Setup, text: string, gg: Graygate) => void | Promise<void>;

async function changesApply(t: Test, first: (s: Setup) => string, change: Mode) {
  const s = await setup(t);
  const file = first(s);
  const gg = await serve(t, file, undefined);
  t.equal(await routed(gg), "alpha", "the first config routes to alpha");
  for (const next of ["beta", "gamma"] satisfies Name[]) {
    await change(s, s.good(next), gg);
    t.equal(await routedTo(gg, next), next, `the change to ${next} took effect`);
    await runs(gg, s.good(next));
  }
  t.match(await reloads(gg), { success: 2, failure: 0, ok: 1 }, "two reloads, no failure");
}

/** The plain file `graygate.yaml`, written with the alpha config. */
const plainFile = (s: Setup) => {
  writeFileSync(s.file, s.good("alpha"));
  return s.file;
};

t.test("in-place write", (t) =>
  changesApply(t, plainFile, (s, text) => writeFileSync(s.file, text)),
);

t.test("editor rename-save", (t) =>
  changesApply(t, plainFile, (s, text) => renameSave(s.file, text)),
);

t.test("delete, then re-create", (t) =>
  changesApply(t, plainFile, async (s, text, gg) => {
    const before = await routed(gg);
    unlinkSync(s.file);
    await sleep(300);
    t.equal(await routed(gg), before, "while the file is missing, the old config serves");
    writeFileSync(s.file, text);
  }),
);

t.test("Kubernetes ConfigMap ..data symlink swap", (t) => {
  let publish: (text: string) => string = () => "";
  return changesApply(
    t,
    (s) => {
      publish = configMap(s.dir);
      return publish(s.good("alpha"));
    },
    (_s, text) => void publish(text),
  );
});
