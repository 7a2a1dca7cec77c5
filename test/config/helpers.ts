/** Shared by the config tests: temp files, the graygate process, config text. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Test } from "tap";
import { loadConfigText } from "../../src/config/load.ts";
import { formatProblem } from "../../src/config/problems.ts";

/** A file of this checkout, by its path from the repository root. */
export function repoFile(path: string): string {
  return fileURLToPath(new URL(`../../${path}`, import.meta.url));
}

export const BIN = repoFile("bin/graygate.js");
export const SHIPPED_CONFIG = repoFile("config/graygate.yaml");

/** A fresh temporary folder, removed when the test ends. */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "graygate-config-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `text` (or bytes) as `name` in a fresh temporary folder; returns its path. */
export function writeTemp(t: Test, name: string, text: string | Uint8Array): string {
  const file = join(tempDir(t), name);
  writeFileSync(file, text);
  return file;
}

/** Config text from lines (and groups of lines), one per line, ending in a newline. */
export function doc(...parts: (string | readonly string[])[]): string {
  return `${parts.flat().join("\n")}\n`;
}

/** Lines 1-5 of most test configs: a valid config with upstream `a` and route `r`. */
export const BASE = [
  "upstreams:",
  '  a: { targets: ["http://10.0.0.1:8080"] }',
  "routes:",
  "  - name: r",
  "    versions: { stable: a }",
] as const;

/** Every problem of a config text, formatted as `FILE:LINE:COL: PATH: message`. */
export function problemsOf(text: string, file: string, env: Record<string, string> = {}): string[] {
  const result = loadConfigText(text, file, env);
  return result.ok ? [] : result.problems.map(formatProblem);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `graygate ARGS…` with this Node and an environment of PATH plus `env`
 * only, so that nothing of the caller's environment leaks into a config.
 */
export function graygate(args: readonly string[], env: Record<string, string> = {}) {
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs graygate and checks its exit code, showing what it printed when that is wrong. */
export async function expectExit(
  t: Test,
  args: readonly string[],
  code: number,
  env: Record<string, string> = {},
): Promise<CliResult> {
  const run = await graygate(args, env);
  t.equal(run.code, code, `graygate ${args.join(" ")} exits ${code}`, {
    stdout: run.stdout,
    stderr: run.stderr,
  });
  return run;
}

/** The non-empty lines of some output. */
export function linesOf(output: string): string[] {
  return output.split("\n").filter((line) => line !== "");
}
