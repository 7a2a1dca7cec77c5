/** The load generators behind one interface: closed loop (wrk, else autocannon) and open loop. */

import { runAutocannon } from "./autocannon.ts";
import type { Machine } from "./machine.ts";
import type { Workspace } from "./processes.ts";
import type { BenchRequest } from "./route-table.ts";
import { type ClosedLoopResult, runWrk, writeWrkScript } from "./wrk.ts";

export type { ClosedLoopResult };

export interface OpenLoopResult {
  rate: number;
  achievedRate: number;
  answered: number;
  errors: number;
  non2xx: number;
  unanswered: number;
  /** Milliseconds from each request's scheduled time to its whole answer. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** How late the 99th-percentile request left (waiting for a connection, or the generator behind). */
  sendLagP99: number;
}

export class LoadGenerator {
  private readonly wrkScript: string | undefined;
  private readonly workspace: Workspace;
  private readonly machine: Machine;
  private readonly request: BenchRequest;

  constructor(workspace: Workspace, machine: Machine, request: BenchRequest) {
    this.workspace = workspace;
    this.machine = machine;
    this.request = request;
    this.wrkScript = machine.wrk === undefined ? undefined : writeWrkScript(workspace, request);
  }

  get closedLoopTool(): string {
    return this.machine.wrk === undefined
      ? `autocannon ${this.machine.autocannonVersion}`
      : `wrk ${this.machine.wrkVersion ?? ""}`;
  }

  closedLoop(url: string, seconds: number, connections: number): Promise<ClosedLoopResult> {
    const { wrk } = this.machine;
    if (wrk !== undefined && this.wrkScript !== undefined) {
      return runWrk(this.workspace, { wrk, script: this.wrkScript, url, seconds, connections });
    }
    return runAutocannon(this.workspace, { request: this.request, url, seconds, connections });
  }

  async openLoop(
    url: string,
    options: { rate: number; seconds: number; warmup: number; connections: number },
  ): Promise<OpenLoopResult> {
    const headers = Object.entries(this.request.headers).flatMap(([name, value]) => [
      "-H",
      `${name}: ${value}`,
    ]);
    const result = await this.workspace.run({
      name: "open-loop",
      command: process.execPath,
      args: [
        "load/open-loop.ts",
        "--url",
        url,
        "--host",
        this.request.host,
        "--path",
        this.request.path,
        ...headers,
        "--rate",
        String(Math.round(options.rate)),
        "--seconds",
        String(options.seconds),
        "--warmup",
        String(options.warmup),
        "--connections",
        String(options.connections),
      ],
      role: "load",
    });
    if (result.code !== 0) throw new Error(`open-loop failed:\n${result.stderr}`);
    return JSON.parse(result.stdout) as OpenLoopResult;
  }
}
