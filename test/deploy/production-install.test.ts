/**
 * The image's production install, without Docker: the files the Dockerfile
 * copies, `npm ci --omit=dev` as its deps stage runs it, then the image's
 * command with Node 24 in that folder and nothing else. It serves, proxies,
 * answers the HEALTHCHECK and drains on SIGTERM, so a runtime dependency left
 * in devDependencies, or a runtime file the image does not copy, fails here.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import t, { type Test } from "tap";
import { Agent, request } from "undici";
import { canaryRoute, config, startEcho, writeConfig } from "../proxy/helpers.ts";
import {
  APP_FILES,
  DEPS_FILES,
  exec,
  exitedZero,
  healthcheckCommand,
  IMAGE_COMMAND,
  PRODUCTION_INSTALL,
  repoFile,
  tempDir,
} from "./helpers.ts";

/** npm fetches from the registry (or its cache): minutes at worst. */
const INSTALL_TIMEOUT_MS = 5 * 60_000;
t.setTimeout(INSTALL_TIMEOUT_MS + 60_000);

const npm = await exec("npm", ["--version"]);
const pkg = JSON.parse(readFileSync(repoFile("package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

t.test(
  "npm ci --omit=dev, then graygate serves from that folder alone",
  { skip: npm === undefined && "npm is not on PATH: the production install cannot run" },
  async (t) => {
    const app = tempDir(t);
    for (const file of new Set([...DEPS_FILES, ...APP_FILES])) {
      cpSync(repoFile(file), join(app, file), { recursive: true });
    }
    // npm runs on this Node 24, as it would in node:24-slim.
    const PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`;
    const installed = await exec("npm", PRODUCTION_INSTALL, {
      cwd: app,
      env: { ...process.env, PATH },
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
    if (!exitedZero(t, installed, `npm ${PRODUCTION_INSTALL.join(" ")}`)) return;
    for (const name of Object.keys(pkg.dependencies)) {
      t.ok(existsSync(join(app, "node_modules", name)), `dependency ${name} is installed`);
    }
    for (const name of Object.keys(pkg.devDependencies)) {
      t.notOk(existsSync(join(app, "node_modules", name)), `devDependency ${name} is not`);
    }
    await serveAndStop(t, app);
  },
);

/** The image's command in `app`: serve, proxy, health check, then SIGTERM and exit 0. */
async function serveAndStop(t: Test, app: string) {
  const stable = await startEcho(t, "stable");
  const canary = await startEcho(t, "canary");
  const file = writeConfig(t, config([canaryRoute("shop", stable.url, canary.url)]));
  const [, script, ...command] = IMAGE_COMMAND;
  const child = spawn(process.execPath, [script, ...command, "-c", file], {
    cwd: app,
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("close", (code, signal) => resolve([code, signal])),
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const messages: string[] = [];
  const serving = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      messages.push(String(line.msg));
      if (line.msg === "graygate serving") resolve(line);
    });
    void exited.then((exit) =>
      reject(new Error(`exited ${JSON.stringify(exit)} before serving:\n${stderr}`)),
    );
  });
  t.equal(serving.file, file, "serves the config named by -c");

  const agent = new Agent();
  t.teardown(() => agent.destroy());
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const answer = await request(url, { dispatcher: agent, headers });
    return { status: answer.statusCode, headers: answer.headers, text: await answer.body.text() };
  };
  t.equal((await get(`${serving.admin}/healthz`)).status, 200, "GET /healthz: 200");
  t.equal((await get(`${serving.admin}/readyz`)).status, 200, "GET /readyz: 200");
  const toStable = await get(`${serving.proxy}/orders/1`);
  t.equal(toStable.status, 200, "a request is proxied");
  t.match(JSON.parse(toStable.text), { version: "stable", url: "/orders/1" }, "by stable");
  const toCanary = await get(`${serving.proxy}/orders/2`, { "x-canary": "always" });
  t.equal(toCanary.headers["x-graygate-version"], "canary", "the rules route it");
  const metrics = (await get(`${serving.admin}/metrics`)).text;
  t.match(metrics, /graygate_requests_total\{[^}]*canary/, "GET /metrics counts it");

  // The HEALTHCHECK's own command, pointed at this admin listener's port.
  const [node = "", ...args] = healthcheckCommand() ?? [];
  const probe = args.map((arg) => arg.replace("http://127.0.0.1:9090", String(serving.admin)));
  t.equal(node, "node", "the HEALTHCHECK runs node");
  exitedZero(t, await exec(process.execPath, probe), "the HEALTHCHECK passes");

  child.kill("SIGTERM");
  t.strictSame(await exited, [0, null], "SIGTERM: a clean exit 0", { stderr });
  t.ok(messages.includes("draining") && messages.includes("stopped"), "it drained", { messages });
  const after = await exec(process.execPath, probe);
  t.equal(after?.code, 1, "the HEALTHCHECK fails once graygate is gone");
}
