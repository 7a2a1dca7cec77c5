/** The graygate command as a process: output and exit codes of the README's command table. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import {
  BASE,
  doc,
  expectExit,
  linesOf,
  repoFile,
  SHIPPED_CONFIG,
  tempDir,
  writeTemp,
} from "./helpers.ts";

const EXIT_OK = 0;
const EXIT_INVALID = 1;
const EXIT_USAGE = 2;

const INVALID = doc(BASE, "    rules:", "      - { name: x, to: canary }");
/** INVALID's one problem, after its file name. */
const INVALID_PROBLEM =
  ':7:24: routes[0].rules[0].to: unknown version "canary": route "r" has stable';

/** The request of config/graygate.yaml's example: a user in the EU, inside the 10% of eu-tenth. */
const EU_USER = [
  "--host",
  "api.example.com",
  "--path",
  "/v1/orders",
  "-H",
  "x-user-id: user-2",
  "--ip",
  "10.1.2.3",
];

/** A bad-usage run: exit 2, a one-line reason on stderr and a pointer to --help. */
async function expectUsage(t: Test, args: readonly string[], reason: string | RegExp) {
  const run = await expectExit(t, args, EXIT_USAGE);
  t.match(run.stderr, reason);
  t.match(run.stderr, "graygate --help");
  return run;
}

/** `graygate explain -c SHIPPED_CONFIG --json ARGS…`, parsed. */
async function explainJson(t: Test, args: readonly string[]): Promise<unknown> {
  const run = await expectExit(t, ["explain", "-c", SHIPPED_CONFIG, "--json", ...args], EXIT_OK);
  return JSON.parse(run.stdout);
}

t.test("validate: a good file prints FILE: ok and exits 0", async (t) => {
  const run = await expectExit(t, ["validate", SHIPPED_CONFIG], EXIT_OK);
  t.equal(run.stdout, `${SHIPPED_CONFIG}: ok\n`);
  t.equal(run.stderr, "");
});

t.test("validate: several files, one invalid: ok lines for the good ones, exit 1", async (t) => {
  const good = writeTemp(t, "good.yaml", doc(BASE));
  const bad = writeTemp(t, "bad.yaml", INVALID);
  const run = await expectExit(t, ["validate", good, bad, SHIPPED_CONFIG], EXIT_INVALID);
  t.strictSame(linesOf(run.stdout), [`${good}: ok`, `${SHIPPED_CONFIG}: ok`]);
  t.strictSame(linesOf(run.stderr), [`${bad}${INVALID_PROBLEM}`]);
});

t.test("validate: a missing file is invalid, located at 1:1", async (t) => {
  const missing = join(tempDir(t), "missing.yaml");
  const run = await expectExit(t, ["validate", missing], EXIT_INVALID);
  t.strictSame(linesOf(run.stderr), [`${missing}:1:1: (file): cannot read the file (ENOENT)`]);
});

t.test("bad usage exits 2", async (t) => {
  await expectUsage(t, ["validate"], "validate needs at least one FILE");
  await expectUsage(t, ["frobnicate"], 'unknown command "frobnicate"');
  await expectUsage(t, ["validate", "--frob", SHIPPED_CONFIG], "--frob");
  await expectUsage(t, ["explain", "-c", SHIPPED_CONFIG, "--path", "/", "--frob"], "--frob");
  await expectUsage(t, ["explain", "-c", SHIPPED_CONFIG], "explain needs --path");
  await expectUsage(
    t,
    ["explain", "-c", SHIPPED_CONFIG, "--path", "v1"],
    '--path must start with "/"',
  );
  await expectUsage(t, ["explain", "--path", "/", "-H", "no-colon"], '"Name: value"');
});

t.test("no command at all prints the help and exits 2", async (t) => {
  const run = await expectExit(t, [], EXIT_USAGE);
  t.match(run.stdout, "Usage:");
});

t.test("--version prints the package's version", async (t) => {
  const pkg = JSON.parse(readFileSync(repoFile("package.json"), "utf8")) as { version: string };
  const run = await expectExit(t, ["--version"], EXIT_OK);
  t.equal(run.stdout, `graygate ${pkg.version}\n`);
});

t.test("--help exits 0 and names the commands", async (t) => {
  const run = await expectExit(t, ["--help"], EXIT_OK);
  for (const command of ["validate", "explain", "schema"]) t.match(run.stdout, command);
});

t.test("explain on an invalid config exits 1 with located errors", async (t) => {
  const file = writeTemp(t, "graygate.yaml", INVALID);
  const run = await expectExit(t, ["explain", "-c", file, "--path", "/"], EXIT_INVALID);
  t.equal(run.stdout, "");
  t.strictSame(linesOf(run.stderr), [`${file}${INVALID_PROBLEM}`]);
});

t.test("explain --json: the hash rule of config/graygate.yaml", async (t) => {
  t.strictSame(await explainJson(t, EU_USER), {
    route: "orders",
    version: "canary",
    rule: "eu-tenth",
    upstream: "orders-v2",
    features: ["audit-trail"],
    hash: { key: "header:x-user-id", value: "user-2", bucket: 551, threshold: 1000 },
  });
});

t.test("explain --json: x-canary: always is rule qa-force", async (t) => {
  const args = ["--host", "api.example.com", "--path", "/v1/orders", "-H", "x-canary: always"];
  t.match(await explainJson(t, args), { route: "orders", version: "canary", rule: "qa-force" });
});

t.test("explain: a request that no route takes is route none, rule default", async (t) => {
  const file = writeTemp(
    t,
    "graygate.yaml",
    doc(BASE.slice(0, 4), "    match: { host: a.example }", BASE[4]),
  );
  const run = await expectExit(
    t,
    ["explain", "-c", file, "--json", "--host", "b.example", "--path", "/"],
    EXIT_OK,
  );
  t.match(JSON.parse(run.stdout), { route: "none", rule: "default" });
});

t.test("explain reads $GRAYGATE_CONFIG without -c", async (t) => {
  const file = writeTemp(t, "graygate.yaml", doc(BASE));
  const run = await expectExit(t, ["explain", "--json", "--path", "/"], EXIT_OK, {
    GRAYGATE_CONFIG: file,
  });
  t.match(JSON.parse(run.stdout), {
    route: "r",
    version: "stable",
    rule: "default",
    upstream: "a",
  });
});

t.test("explain without --json: route, version and bucket for people", async (t) => {
  const run = await expectExit(t, ["explain", "-c", SHIPPED_CONFIG, ...EU_USER], EXIT_OK);
  t.match(run.stdout, /route\s+orders\b/);
  t.match(run.stdout, /version\s+canary\b/);
  t.match(run.stdout, /bucket 551\b/);
});
