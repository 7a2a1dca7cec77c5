/**
 * Shared by the deployment tests: what the image installs and runs (checked
 * against the Dockerfile in dockerfile.test.ts, performed in
 * production-install.test.ts), the Dockerfile's instructions, the Kubernetes
 * manifests, external commands that may be absent (npm, promtool), and the
 * metric names graygate exports, with a reader of the names a PromQL
 * expression uses.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Test } from "tap";
import { parse, stringify } from "yaml";
import { loadConfigText } from "../../src/config/load.ts";
import { formatProblem } from "../../src/config/problems.ts";
import type { Config } from "../../src/config/schema.ts";
import { Metrics } from "../../src/observe/metrics.ts";
import { repoFile, tempDir } from "../config/helpers.ts";

export { repoFile, tempDir };

// ---------------------------------------------------------------- the image

/** What the image's deps stage copies before installing. */
export const DEPS_FILES = ["package.json", "package-lock.json"] as const;
/** The deps stage's install: npm with these arguments. */
export const PRODUCTION_INSTALL = ["ci", "--omit=dev", "--no-audit", "--no-fund"] as const;
/** What the final stage copies into its WORKDIR, beside the installed node_modules. */
export const APP_FILES = ["package.json", "bin", "src"] as const;
/** ENTRYPOINT followed by CMD. */
export const IMAGE_COMMAND = ["node", "bin/graygate.js", "serve"] as const;

// ---------------------------------------------------------------- commands

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long; 60 s unless given. */
  timeoutMs?: number;
}

/**
 * Runs a command to its end and collects what it printed; undefined when
 * the command is not installed.
 */
export function exec(
  command: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<Ran | undefined> {
  const settings = {
    cwd: options.cwd ?? repoFile("."),
    env: options.env ?? process.env,
    timeout: options.timeoutMs ?? 60_000,
    killSignal: "SIGKILL" as const,
    maxBuffer: 64 * 1024 * 1024,
    encoding: "utf8" as const,
  };
  return new Promise((resolve, reject) => {
    execFile(command, args, settings, (error, stdout, stderr) => {
      // A failed run's error has its exit code (a number) or its signal; a failed start has neither.
      const code = error === null ? 0 : error.code;
      if (code === "ENOENT") resolve(undefined);
      else if (typeof code !== "number" && !error?.signal) reject(error);
      else
        resolve({
          code: typeof code === "number" ? code : null,
          signal: error?.signal ?? null,
          stdout,
          stderr,
        });
    });
  });
}

/** Asserts that a command ran and exited 0, showing its output when not. */
export function exitedZero(t: Test, ran: Ran | undefined, what: string): ran is Ran {
  return t.same(ran && { code: ran.code, signal: ran.signal }, { code: 0, signal: null }, what, {
    stdout: ran?.stdout,
    stderr: ran?.stderr,
  });
}

/** Test options for the tests that need promtool: skipped, with the reason, where it is absent. */
export const NEEDS_PROMTOOL = {
  skip:
    (await exec("promtool", ["--version"])) === undefined &&
    "promtool is not installed (Debian: apt-get install prometheus)",
};

/**
 * `promtool check rules` on these recording rules, written to a temp file:
 * Prometheus' own parser checks each expression.
 */
export async function checkExpressions(t: Test, exprs: ReadonlyMap<string, string>) {
  const rules = [...exprs].map(([record, expr]) => ({ record, expr }));
  const file = join(tempDir(t), "rules.yaml");
  writeFileSync(file, stringify({ groups: [{ name: "check", rules }] }));
  exitedZero(
    t,
    await exec("promtool", ["check", "rules", file]),
    "promtool parses every expression",
  );
}

// ---------------------------------------------------------------- Dockerfile

export interface Instruction {
  /** Upper-cased: FROM, COPY, RUN… */
  keyword: string;
  /** The rest of the instruction, continuation lines joined. */
  args: string;
  /** 0 for the first FROM's stage, and so on. */
  stage: number;
}

/** The Dockerfile's instructions, comments and blank lines left out. */
export function dockerfile(): Instruction[] {
  const text = readFileSync(repoFile("Dockerfile"), "utf8");
  const instructions: Instruction[] = [];
  let stage = -1;
  let pending = "";
  for (const line of text.split("\n")) {
    if (pending === "" && /^\s*(#|$)/.test(line)) continue;
    pending += line.trim();
    if (pending.endsWith("\\")) {
      pending = `${pending.slice(0, -1).trim()} `;
      continue;
    }
    const [, keyword = "", args = ""] = /^(\S+)\s*(.*)$/.exec(pending) ?? [];
    pending = "";
    if (keyword.toUpperCase() === "FROM") stage++;
    instructions.push({ keyword: keyword.toUpperCase(), args, stage });
  }
  return instructions;
}

/** The arguments of an exec-form (JSON array) instruction, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  return JSON.parse(args) as string[];
}

export interface Copy {
  /** The --from=STAGE, if any. */
  from: string | undefined;
  sources: string[];
  destination: string;
  stage: number;
}

/** The Dockerfile's COPY instructions, split into sources and destination. */
export function copies(): Copy[] {
  return dockerfile()
    .filter((i) => i.keyword === "COPY")
    .map(({ args, stage }) => {
      const words = args.split(/\s+/);
      const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
      const paths = words.filter((w) => !w.startsWith("--"));
      return { from, sources: paths.slice(0, -1), destination: paths.at(-1) ?? "", stage };
    });
}

/** The HEALTHCHECK's command (exec form), after its options. */
export function healthcheckCommand(): string[] | undefined {
  const args = dockerfile().find((i) => i.keyword === "HEALTHCHECK")?.args ?? "";
  const command = /(?:^|\s)CMD\s+(.*)$/.exec(args)?.[1];
  return command === undefined ? undefined : execForm(command);
}

// ---------------------------------------------------------------- Kubernetes

export const KUBERNETES = repoFile("deploy/kubernetes");

/** One manifest of deploy/kubernetes, parsed (each file holds one document). */
export function manifest<T = Record<string, unknown>>(name: string): T {
  return parse(readFileSync(join(KUBERNETES, name), "utf8")) as T;
}

/** The graygate.yaml that configmap.yaml carries, as text. */
export function embeddedConfigText(): string {
  return manifest<{ data: Record<string, string> }>("configmap.yaml").data["graygate.yaml"] ?? "";
}

/** The embedded graygate.yaml, written to a temp file (for a real graygate process). */
export function embeddedConfigFile(t: Test): string {
  const file = join(tempDir(t), "graygate.yaml");
  writeFileSync(file, embeddedConfigText());
  return file;
}

/** The embedded graygate.yaml, loaded as graygate does (no admin token in the environment). */
export function embeddedConfig(): Config {
  const result = loadConfigText(embeddedConfigText(), "configmap.yaml#graygate.yaml", {});
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join("\n"));
  return result.loaded.config;
}

// ---------------------------------------------------------------- metrics

/** Every metric graygate exports (docs/METRICS.md), as Prometheus names it → its label names. */
function exportedMetrics(): Map<string, readonly string[]> {
  const names = new Map<string, readonly string[]>();
  for (const metric of new Metrics({ defaultMetrics: false }).text.getMetricsAsArray()) {
    const { name, type, labelNames } = metric as unknown as {
      name: string;
      type: string;
      labelNames: string[];
    };
    if (type !== "histogram") {
      names.set(name, labelNames);
      continue;
    }
    names.set(`${name}_bucket`, [...labelNames, "le"]);
    names.set(`${name}_sum`, labelNames);
    names.set(`${name}_count`, labelNames);
  }
  return names;
}

export const EXPORTED: ReadonlyMap<string, readonly string[]> = exportedMetrics();

/** prom-client's default metrics, which graygate also exports. */
export const DEFAULT_METRIC = /^(process|nodejs)_/;

const PROMQL_KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);

/**
 * The metric names a PromQL expression (or a Grafana query, with its
 * `$variables`) selects: what is left once strings, label matchers, ranges,
 * grouping clauses, variables, functions and keywords are taken out.
 */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\b/g, "")
    .replace(/\$\{?\w+\}?/g, "");
  const names = bare.match(/(?<![\w.:])[a-zA-Z_:][\w:]*(?![\w:]|\s*\()/g) ?? [];
  return [...new Set(names.filter((name) => !PROMQL_KEYWORDS.has(name.toLowerCase())))];
}

/**
 * Asserts that an expression selects at least one metric and only metrics
 * that graygate exports (or `alsoKnown`, such as recording rules).
 */
export function onlyExportedMetrics(
  t: Test,
  expr: string,
  alsoKnown: ReadonlySet<string> = new Set(),
): string[] {
  const names = metricNamesIn(expr);
  t.not(names.length, 0, "selects a metric", { expr });
  const unknown = names.filter(
    (name) => !EXPORTED.has(name) && !alsoKnown.has(name) && !DEFAULT_METRIC.test(name),
  );
  t.strictSame(unknown, [], "selects only metrics that graygate exports", { expr });
  return names;
}
