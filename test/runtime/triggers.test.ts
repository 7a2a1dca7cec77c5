/**
 * docs/OPERATIONS.md (reload) and the README's admin API: the watcher skips content it has already seen; SIGHUP and
 * POST /-/reload always re-read the file and count; the API answers 200 {hash}
 * or 400 {errors}; with admin.token set, only `Bearer TOKEN` may POST.
 */
import { readFileSync, utimesSync, writeFileSync } from "node:fs";
import t from "tap";
import {
  admin,
  badYaml,
  counted,
  postReload,
  reloads,
  renameSave,
  routed,
  routedTo,
  serve,
  setup,
  sha256,
  sleep,
} from "./helpers.ts";

t.test("rewriting identical bytes is not a reload; SIGHUP and POST always are", async (t) => {
  const s = await setup(t);
  const gg = await serve(t, s.file, s.good("alpha"));
  const start = await reloads(gg);
  t.match(start, { success: 0, failure: 0, ok: 1 });

  // The same bytes, written in place, saved by rename and touched; then past
  // the debounce and a 2 s poll of the watcher.
  writeFileSync(s.file, s.good("alpha"));
  renameSave(s.file, s.good("alpha"));
  utimesSync(s.file, new Date(), new Date());
  await sleep(2500);
  t.strictSame(await reloads(gg), start, "unchanged content counts no reload");

  process.kill(gg.child.pid as number, "SIGHUP");
  t.match(await counted(gg, start, { success: 1 }), { success: 1, failure: 0, ok: 1 }, "SIGHUP");
  t.equal(await routed(gg), "alpha");

  const posted = await postReload(gg);
  t.equal(posted.status, 200, "POST /-/reload: 200");
  t.strictSame(posted.body, { hash: sha256(readFileSync(s.file)) }, "{hash}: the file's sha256");
  t.match(await reloads(gg), { success: 2, failure: 0, ok: 1 }, "POST counts, unchanged or not");

  const bad = badYaml(s.good("beta"));
  writeFileSync(s.file, bad.text);
  const rejected = await postReload(gg);
  t.equal(rejected.status, 400, "a bad file: 400");
  t.strictSame(Object.keys(rejected.body), ["errors"], "{errors}");
  t.match(rejected.body.errors, [`${s.file}:${bad.at}: `], "FILE:LINE:COL: of the syntax error");
  t.match(await reloads(gg), { success: 2, ok: 0 }, "last reload not ok");
  t.ok(((await reloads(gg)).failure ?? 0) >= 1, "the failure is counted");
  t.equal(await routed(gg), "alpha", "the old config serves");

  writeFileSync(s.file, s.good("beta"));
  const fixed = await postReload(gg);
  t.strictSame(fixed, { status: 200, body: { hash: sha256(s.good("beta")) } });
  t.equal(await routed(gg), "beta", "POST applied the fixed file");
});

t.test("admin.token: POST /-/reload needs the Bearer token; GETs do not", async (t) => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${TEST_TOKEN} is config text
  const s = await setup(t, { admin: { token: "${TEST_TOKEN}" } });
  const gg = await serve(t, s.file, s.good("alpha"), { TEST_TOKEN: "s3cret" });
  const before = await reloads(gg);

  const missing = await postReload(gg);
  t.equal(missing.status, 401, "no Authorization: 401");
  t.equal((await postReload(gg, "Bearer wrong")).status, 401, "a wrong token: 401");
  t.equal((await postReload(gg, "s3cret")).status, 401, "the token without Bearer: 401");
  t.strictSame(await reloads(gg), before, "refused reloads count nothing");

  writeFileSync(s.file, s.good("beta"));
  const ok = await postReload(gg, "Bearer s3cret");
  t.strictSame(ok, { status: 200, body: { hash: sha256(s.good("beta")) } }, "Bearer s3cret: 200");
  await routedTo(gg, "beta");

  for (const path of ["/healthz", "/readyz", "/metrics", "/config", "/explain?path=/"]) {
    t.equal((await admin(gg, path)).status, 200, `GET ${path} needs no token`);
  }
  t.notMatch((await admin(gg, "/config")).text, "s3cret", "/config does not show the token");
});
