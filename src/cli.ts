/**
 * The graygate command: serve, demo, validate, explain and schema.
 * Exit codes: 0 ok, 1 invalid config, 2 bad usage.
 */
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadConfigFile } from "./config/load.ts";
import { formatProblem, type Problem } from "./config/problems.ts";
import { configJsonSchema } from "./config/schema.ts";
import { type ExplainRequest, explain, formatExplanation } from "./routing/explain.ts";
import { compileTable } from "./routing/table.ts";
import { runPrimary, runWorker, workerCount } from "./runtime/cluster.ts";
import { runUntilSignal, startServer } from "./runtime/serve.ts";

const EXIT_OK = 0;
const EXIT_INVALID = 1;
const EXIT_USAGE = 2;

export const DEFAULT_CONFIG = "config/graygate.yaml";

const HELP = `graygate: an edge reverse proxy for gray (canary) releases

Usage:
  graygate serve [-c FILE]            run the proxy and admin listeners
  graygate demo                       two echo upstreams and the proxy (npm start)
  graygate validate FILE...           check config files; FILE:LINE:COL: PATH: message per error
  graygate explain [-c FILE] --path P [options]
                                      show the decision for one request
  graygate schema                     print the config's JSON Schema (draft 2020-12)
  graygate --version | --help

serve and explain:
  -c, --config FILE     config file (default: $GRAYGATE_CONFIG, else ${DEFAULT_CONFIG})

explain options:
      --method M        request method (default GET)
      --host H          Host header
      --path P          URL path; a "?query" on it is read too
  -H, --header 'N: v'   a request header (repeatable)
      --cookie 'a=b; c=d'
      --query 'k=v&...'
      --ip ADDR         the client address as graygate would resolve it
      --json            print {route, version, rule, upstream, features, hash?}

Exit status: 0 ok (serve: a clean shutdown), 1 invalid config, 2 bad usage.
Environment: GRAYGATE_CONFIG, GRAYGATE_LOG_LEVEL.
`;

class UsageError extends Error {}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function printProblems(problems: readonly Problem[]): void {
  for (const problem of problems) process.stderr.write(`${formatProblem(problem)}\n`);
}

async function validate(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length === 0) throw new UsageError("validate needs at least one FILE");
  let status = EXIT_OK;
  for (const file of positionals) {
    const result = await loadConfigFile(file);
    if (result.ok) {
      process.stdout.write(`${file}: ok\n`);
    } else {
      printProblems(result.problems);
      status = EXIT_INVALID;
    }
  }
  return status;
}

async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: { config: { type: "string", short: "c" } },
  });
  const file = values.config ?? process.env.GRAYGATE_CONFIG ?? DEFAULT_CONFIG;
  if (cluster.isWorker) return runWorker();
  const loaded = await loadConfigFile(file);
  if (!loaded.ok) {
    printProblems(loaded.problems);
    return EXIT_INVALID;
  }
  const workers = workerCount(loaded.loaded.config);
  if (workers > 1) return runPrimary(loaded.loaded, workers);
  let started: Awaited<ReturnType<typeof startServer>>;
  try {
    started = await startServer({ configFile: file, loaded: loaded.loaded });
  } catch (error) {
    // A file the config names (a certificate, a CA) is missing, or a port is taken.
    process.stderr.write(`${file}: cannot start: ${(error as Error).message}\n`);
    return EXIT_INVALID;
  }
  if (!started.ok) {
    printProblems(started.problems);
    return EXIT_INVALID;
  }
  return runUntilSignal(started.server);
}

async function explainCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      config: { type: "string", short: "c" },
      method: { type: "string" },
      host: { type: "string" },
      path: { type: "string" },
      header: { type: "string", short: "H", multiple: true },
      cookie: { type: "string" },
      query: { type: "string" },
      ip: { type: "string" },
      json: { type: "boolean" },
    },
  });
  if (values.path === undefined) throw new UsageError("explain needs --path");
  if (!values.path.startsWith("/")) throw new UsageError('--path must start with "/"');
  const headers = (values.header ?? []).map((header): [string, string] => {
    const colon = header.indexOf(":");
    if (colon <= 0) throw new UsageError(`--header wants "Name: value", got "${header}"`);
    return [header.slice(0, colon), header.slice(colon + 1)];
  });
  const file = values.config ?? process.env.GRAYGATE_CONFIG ?? DEFAULT_CONFIG;
  const loaded = await loadConfigFile(file);
  if (!loaded.ok) {
    printProblems(loaded.problems);
    return EXIT_INVALID;
  }
  const request: ExplainRequest = { path: values.path, headers };
  if (values.method !== undefined) request.method = values.method;
  if (values.host !== undefined) request.host = values.host;
  if (values.cookie !== undefined) request.cookie = values.cookie;
  if (values.query !== undefined) request.query = values.query;
  if (values.ip !== undefined) request.ip = values.ip;
  const explanation = explain(compileTable(loaded.loaded.config), request);
  process.stdout.write(
    values.json === true
      ? `${JSON.stringify(explanation.result)}\n`
      : `${formatExplanation(explanation)}\n`,
  );
  return EXIT_OK;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(HELP);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      case "--version":
      case "-v":
      case "version":
        process.stdout.write(`graygate ${version()}\n`);
        return EXIT_OK;
      case "serve":
        return await serveCommand(rest);
      case "demo":
        return await (await import("./demo.ts")).demo(rest);
      case "validate":
        return await validate(rest);
      case "explain":
        return await explainCommand(rest);
      case "schema":
        if (rest.length > 0) throw new UsageError("schema takes no arguments");
        process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
        return EXIT_OK;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    const usage =
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true;
    if (!usage) throw error;
    process.stderr.write(
      `graygate: ${(error as Error).message}\nRun "graygate --help" for usage.\n`,
    );
    return EXIT_USAGE;
  }
}

const status = await main(process.argv.slice(2));
if (process.argv[2] === "serve" || process.argv[2] === "demo") {
  // Drained and flushed: end now, whatever handles (a worker's IPC channel) are left.
  process.exit(status);
}
process.exitCode = status;
