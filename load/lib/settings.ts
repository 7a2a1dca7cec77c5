/**
 * Benchmark settings from the environment (and `--quick`). Quick mode is for
 * trying the harness: short runs, and nothing recorded unless BENCH_RECORD=1.
 */

export interface Settings {
  quick: boolean;
  /** Append the results to load/RESULTS.md. */
  record: boolean;
  /** Closed-loop throughput: warm-up per target, then rounds × seconds. */
  warmupSeconds: number;
  seconds: number;
  runs: number;
  connections: number;
  /** Open-loop latency: fractions of graygate's max req/s, seconds per rate and target. */
  latencyLoads: number[];
  latencySeconds: number;
  latencyWarmupSeconds: number;
  latencyConnections: number;
  /** Memory: clients held open, seconds of load. */
  memoryClients: number;
  memorySeconds: number;
  /** Soak (bench:soak): minutes, sampling interval, clients. */
  soakMinutes: number;
  soakSampleSeconds: number;
  soakClients: number;
  /** Only these targets (names as in the table, comma-separated), or all. */
  targets: string[] | undefined;
  /** Act as if wrk were not installed: autocannon for closed-loop load (to try the fallback). */
  noWrk: boolean;
  /** Act as if nginx were not installed: the Node upstream, no nginx target. */
  noNginx: boolean;
  proxyCpu: number;
  loadCpu: number;
}

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${text}: not a number ≥ 0`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  return !["0", "false", "no", "off"].includes(text.toLowerCase());
}

export function readSettings(env = process.env, argv = process.argv.slice(2)): Settings {
  const quick = argv.includes("--quick") || flag(env, "BENCH_QUICK") === true;
  const loads = (env.BENCH_LATENCY_LOADS ?? "0.5,0.75").split(",").map((part) => Number(part));
  if (loads.some((load) => !(load > 0 && load <= 1.5))) {
    throw new Error(`BENCH_LATENCY_LOADS=${env.BENCH_LATENCY_LOADS}: fractions such as 0.5,0.75`);
  }
  return {
    quick,
    record: flag(env, "BENCH_RECORD") ?? !quick,
    warmupSeconds: numberFrom(env, "BENCH_WARMUP_SECONDS", quick ? 2 : 5),
    seconds: numberFrom(env, "BENCH_SECONDS", quick ? 3 : 10),
    runs: Math.max(1, Math.round(numberFrom(env, "BENCH_RUNS", quick ? 2 : 3))),
    connections: numberFrom(env, "BENCH_CONNECTIONS", 50),
    latencyLoads: loads,
    latencySeconds: numberFrom(env, "BENCH_LATENCY_SECONDS", quick ? 3 : 10),
    latencyWarmupSeconds: numberFrom(env, "BENCH_LATENCY_WARMUP_SECONDS", quick ? 1 : 2),
    latencyConnections: numberFrom(env, "BENCH_LATENCY_CONNECTIONS", 50),
    memoryClients: numberFrom(env, "BENCH_MEMORY_CLIENTS", 1000),
    memorySeconds: numberFrom(env, "BENCH_MEMORY_SECONDS", quick ? 5 : 30),
    soakMinutes: numberFrom(env, "BENCH_SOAK_MINUTES", 10),
    soakSampleSeconds: numberFrom(env, "BENCH_SOAK_SAMPLE_SECONDS", 30),
    soakClients: numberFrom(env, "BENCH_SOAK_CLIENTS", 1000),
    targets: env.BENCH_TARGETS
      ? env.BENCH_TARGETS.split(",").map((name) => name.trim())
      : undefined,
    noWrk: flag(env, "BENCH_NO_WRK") === true,
    noNginx: flag(env, "BENCH_NO_NGINX") === true,
    proxyCpu: numberFrom(env, "BENCH_PROXY_CPU", 0),
    loadCpu: numberFrom(env, "BENCH_LOAD_CPU", 1),
  };
}
