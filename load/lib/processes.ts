/**
 * Child processes of a benchmark: each server and each load generator runs in
 * its own process, pinned to a core with taskset when it can be. Every child
 * is tracked and ended, and the temp dir removed, however the benchmark ends
 * (done, failed, Ctrl-C, SIGTERM).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Where a process runs: alone on the proxy core, or on the core shared by upstream and load. */
export type Role = "proxy" | "load";

export interface Placement {
  /** taskset works here and there are at least two cores. */
  pinned: boolean;
  proxyCpu: number;
  loadCpu: number;
}

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Where its stdout goes (servers), or undefined when captured (load generators). */
  readonly stdoutFile: string | undefined;
}

export interface LaunchOptions {
  name: string;
  command: string;
  args: string[];
  role: Role;
  /** Send stdout to this file (opened for append, so it can be truncated while written). */
  stdoutFile?: string;
  /** Added to the environment. */
  env?: Record<string, string>;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const FD_WANTED = 65536;

/** Children being stopped on purpose: their exit is not reported as a failure. */
const stopping = new WeakSet<Child>();

/** The soft and hard limits on open files, as a shell started from here gets them. */
function fileLimits(): { soft: number; hard: number } {
  const out = spawnSync("sh", ["-c", "ulimit -Sn; ulimit -Hn"], { encoding: "utf8" }).stdout;
  const [soft, hard] = out
    .split("\n")
    .map((line) => (line === "unlimited" ? Infinity : Number(line)));
  return { soft: soft ?? 1024, hard: hard ?? 1024 };
}

export class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), "graygate-bench-"));
  /** Each command line run, shown with $TMP, PORT and paths relative to the repo. */
  readonly commands: string[] = [];
  readonly fdLimit: number;
  private readonly children = new Set<Child>();
  private readonly raiseFds: boolean;
  private closed = false;

  readonly placement: Placement;

  constructor(placement: Placement) {
    this.placement = placement;
    const limits = fileLimits();
    // 1,000 clients need 1,000 descriptors in the load generator and 2,000
    // in a proxy (client side and upstream side): raise the soft limit of
    // children when it is low (a shell's ulimit, since Node cannot).
    this.raiseFds = limits.soft < 8192 && limits.hard > limits.soft;
    this.fdLimit = this.raiseFds ? Math.min(limits.hard, FD_WANTED) : limits.soft;
    const onSignal = (signal: NodeJS.Signals) => {
      process.stderr.write(`\n${signal}: stopping every child\n`);
      void this.close().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    process.once("SIGHUP", onSignal);
    // Last resort (an uncaught error, process.exit): no waiting here, so SIGKILL.
    process.once("exit", () => this.killNow());
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  private argv(options: LaunchOptions): [string, string[]] {
    let argv = [options.command, ...options.args];
    if (this.placement.pinned) {
      const cpu = options.role === "proxy" ? this.placement.proxyCpu : this.placement.loadCpu;
      argv = ["taskset", "-c", String(cpu), ...argv];
    }
    if (this.raiseFds) {
      argv = ["sh", "-c", `ulimit -n ${this.fdLimit} 2>/dev/null; exec "$@"`, "sh", ...argv];
    }
    this.commands.push(this.display(argv));
    return [argv[0] as string, argv.slice(1)];
  }

  /** A command line as the report shows it: no temp paths, ports or absolute repo paths. */
  private display(argv: string[]): string {
    const shown = (this.raiseFds ? argv.slice(4) : argv).map((arg) => {
      if (arg === process.execPath) return "node";
      const text = arg.startsWith(repoRoot) ? relative(repoRoot, arg) : arg;
      return text.replaceAll(this.dir, "$TMP").replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT");
    });
    return shown.map((arg) => (/[\s'"$;|&]/.test(arg) ? `'${arg}'` : arg)).join(" ");
  }

  /** Starts a long-running server. */
  launch(options: LaunchOptions): Child {
    const [command, args] = this.argv(options);
    // Emptied first (a restarted server must not be found by its predecessor's
    // start line), then opened for append (O_APPEND), so that it can be
    // truncated while the server writes to it.
    if (options.stdoutFile !== undefined) writeFileSync(options.stdoutFile, "");
    const out = options.stdoutFile === undefined ? "ignore" : openSync(options.stdoutFile, "a");
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", out, "pipe"],
    });
    if (typeof out === "number") closeSync(out);
    if (child.pid === undefined) throw new Error(`${options.name}: could not start ${command}`);
    const tracked: Child = {
      name: options.name,
      process: child,
      pid: child.pid,
      stdoutFile: options.stdoutFile,
    };
    this.children.add(tracked);
    // Keep the last of stderr to say why a server died.
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on("exit", (code, signal) => {
      this.children.delete(tracked);
      if (!this.closed && !stopping.has(tracked)) {
        process.stderr.write(`${options.name} exited (${signal ?? code}):\n${stderr}\n`);
      }
    });
    return tracked;
  }

  /** Runs a command to its end (a load generator), capturing its output. */
  run(options: Omit<LaunchOptions, "stdoutFile">): Promise<RunResult> {
    const [command, args] = this.argv(options);
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const tracked: Child = {
      name: options.name,
      process: child,
      pid: child.pid ?? -1,
      stdoutFile: undefined,
    };
    this.children.add(tracked);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-64_000);
    });
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => {
        this.children.delete(tracked);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** SIGTERM, then SIGKILL if it has not gone within `graceMs`. */
  async stop(child: Child, graceMs = 5000): Promise<void> {
    stopping.add(child);
    const proc = child.process;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Closing or closed (after a signal, whatever fails next is the stopping itself). */
  get closing(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.children].map((child) => this.stop(child)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private killNow(): void {
    for (const child of this.children) child.process.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls a server's output file until `pattern` matches; fails early if the
 * server exits. Returns the first capture group.
 */
export async function waitForOutput(
  child: Child,
  pattern: RegExp,
  timeoutMs = 15_000,
): Promise<string> {
  const file = child.stdoutFile;
  if (file === undefined) throw new Error(`${child.name}: no output file`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = pattern.exec(readFileSync(file, "utf8"));
    if (found !== null) return found[1] ?? found[0];
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited before it was ready`);
    }
    await sleep(50);
  }
  throw new Error(`${child.name}: nothing matching ${pattern} in ${file} after ${timeoutMs} ms`);
}
