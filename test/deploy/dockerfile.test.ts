/**
 * The Dockerfile and .dockerignore, read as text (there is no Docker engine
 * here): a production install on node:24-slim, non-root, the ports, signal,
 * health check and command that deploy/ and the docs count on, and COPY
 * sources that exist and that the build context does not leave out.
 * production-install.test.ts performs what these lines describe.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { runInNewContext } from "node:vm";
import t from "tap";
import { loadConfigText } from "../../src/config/load.ts";
import {
  APP_FILES,
  copies,
  DEPS_FILES,
  dockerfile,
  execForm,
  healthcheckCommand,
  IMAGE_COMMAND,
  PRODUCTION_INSTALL,
  repoFile,
} from "./helpers.ts";

const instructions = dockerfile();
const finalStage = Math.max(...instructions.map((i) => i.stage));
/** The arguments of each instruction with this keyword in the final stage. */
const final = (keyword: string) =>
  instructions.filter((i) => i.keyword === keyword && i.stage === finalStage).map((i) => i.args);

t.test("every stage is FROM node:24-slim, and there are two or more", async (t) => {
  const froms = instructions.filter((i) => i.keyword === "FROM").map((i) => i.args);
  t.ok(froms.length >= 2, "a multi-stage build", { froms });
  for (const from of froms) t.match(from, /^node:24-slim(\s+AS\s+\S+)?$/i);
});

t.test("the deps stage copies the package files alone, then installs without dev", async (t) => {
  const deps = instructions.filter((i) => i.stage === 0 && i.keyword !== "FROM");
  const firstCopy = deps.findIndex((i) => i.keyword === "COPY");
  const install = deps.findIndex((i) => i.keyword === "RUN");
  t.equal(deps[firstCopy]?.args, `${DEPS_FILES.join(" ")} ./`, "package.json and the lockfile");
  t.ok(firstCopy < install, "copied before the install, so the layer caches");
  t.equal(deps[install]?.args, `npm ${PRODUCTION_INSTALL.join(" ")}`);
  t.equal(deps.filter((i) => i.keyword === "COPY").length, 1, "nothing else before the install");
});

t.test("the final stage: node_modules from deps, the app files, the example config", async (t) => {
  const inFinal = copies().filter((c) => c.stage === finalStage);
  t.match(
    inFinal.filter((c) => c.from !== undefined),
    [{ from: "deps", sources: ["/app/node_modules"], destination: "./node_modules" }],
  );
  const intoApp = inFinal.filter((c) => c.from === undefined && !c.destination.startsWith("/"));
  t.strictSame(
    intoApp.flatMap((c) => c.sources.map((s) => s.replace(/\/$/, ""))).sort(),
    [...APP_FILES].sort(),
    "package.json, bin/ and src/ into the WORKDIR",
  );
  for (const copy of intoApp) {
    const into = copy.destination.replace(/^\.\//, "").replace(/\/$/, "");
    for (const source of copy.sources) {
      // Docker copies a folder's contents, so a folder needs its own name as the destination.
      const lands = into === "" && !statSync(repoFile(source)).isDirectory() ? source : into;
      t.equal(lands, source.replace(/\/$/, ""), `${source} keeps its path in the WORKDIR`);
    }
  }
  const config = inFinal.find((c) => c.sources.includes("config/graygate.yaml"));
  t.equal(config?.destination, "/etc/graygate/", "the example config goes to /etc/graygate");
  t.ok(final("ENV").some((env) => env.includes("GRAYGATE_CONFIG=/etc/graygate/graygate.yaml")));
  t.ok(final("ENV").some((env) => env.includes("NODE_ENV=production")));
});

t.test("it runs as the unprivileged node user", async (t) => {
  const users = final("USER");
  t.strictSame(users, ["node"]);
  t.notOk(
    users.some((user) => /^(root|0)(:|$)/.test(user)),
    "not root",
  );
});

t.test("ports, stop signal, entrypoint and command", async (t) => {
  t.strictSame(final("EXPOSE").join(" ").split(/\s+/).sort(), ["8080", "9090"]);
  t.strictSame(final("STOPSIGNAL"), ["SIGTERM"]);
  const [entrypoint] = final("ENTRYPOINT");
  const [cmd] = final("CMD");
  t.strictSame(execForm(entrypoint ?? ""), IMAGE_COMMAND.slice(0, 2), "exec form: node is PID 1");
  t.strictSame(execForm(cmd ?? ""), IMAGE_COMMAND.slice(2));
});

t.test("the HEALTHCHECK fetches /healthz on the example config's admin listener", async (t) => {
  const command = healthcheckCommand();
  t.equal(command?.[0], "node", "node's global fetch: the slim image has no curl");
  t.equal(command?.[1], "-e");
  const script = command?.[2] ?? "";
  t.match(script, /fetch\(['"]http:\/\/127\.0\.0\.1:9090\/healthz['"]\)/);
  t.doesNotThrow(() => runInNewContext(`(function () { ${script} })`), "the script parses");
  const example = loadConfigText(readFileSync(repoFile("config/graygate.yaml"), "utf8"), "x", {});
  t.equal(example.ok && example.loaded.config.admin.listen, "127.0.0.1:9090", "where it listens");
});

/** The .dockerignore patterns, as written. */
const ignored = readFileSync(repoFile(".dockerignore"), "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));

// A .dockerignore pattern as a regular expression: `*` within a name, `**` and a slash any folders.
const patternOf = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split("**/")
      .map((part) => part.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*"))
      .join("(?:.*/)?")}$`,
  );
const patterns = ignored.map(patternOf);

/** Whether .dockerignore leaves this path (or a folder above it) out of the build context. */
function leftOut(path: string): boolean {
  const parts = path.replace(/\/$/, "").split("/");
  return parts.some((_, i) => patterns.some((p) => p.test(parts.slice(0, i + 1).join("/"))));
}

t.test(".dockerignore keeps the build context small", async (t) => {
  for (const entry of ["node_modules", ".git", ".tap", "coverage", "test", "load", "*.log"]) {
    t.ok(ignored.includes(entry), `excludes ${entry}`);
  }
  t.ok(leftOut("node_modules/yaml/package.json"), "a folder's contents go with it");
  t.ok(leftOut("src/debug.log"), "log files anywhere");
  t.notOk(leftOut("src/cli.ts"), "not the sources");
});

t.test("every path the Dockerfile copies exists and is in the build context", async (t) => {
  const sources = copies()
    .filter((c) => c.from === undefined)
    .flatMap((c) => c.sources);
  t.ok(sources.length > 0);
  for (const source of sources) {
    t.ok(existsSync(repoFile(source)), `${source} exists`);
    t.notOk(leftOut(source), `${source} is not excluded by .dockerignore`);
  }
});
