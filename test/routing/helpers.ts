/**
 * Shared by the routing tests: configs written as small inline YAML, loaded
 * and compiled the way graygate does, and request facts with defaults.
 */
import type t from "tap";
import { loadConfigText } from "../../src/config/load.ts";
import { formatProblem } from "../../src/config/problems.ts";
import type { HeaderBag } from "../../src/routing/lookup.ts";
import {
  compileTable,
  type Decision,
  type RequestFacts,
  type RouteTable,
} from "../../src/routing/table.ts";

/** The type of a tap subtest's `t`. */
export type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** Three upstreams every test config may name. */
const UPSTREAMS = `upstreams:
  v1: { targets: ["http://127.0.0.1:8001"] }
  v2: { targets: ["http://127.0.0.1:8002"] }
  v3: { targets: ["http://127.0.0.1:8003"] }
`;

/**
 * Whether tables are compiled with generated code (the default) or with the
 * closures it stands for: conditions-closures.test.ts runs the condition
 * cases the second way (GRAYGATE_TEST_CODEGEN=0), so that both agree.
 */
export const CODEGEN = process.env.GRAYGATE_TEST_CODEGEN !== "0";

/** Loads `UPSTREAMS + yaml` as test.yaml and compiles it; a bad config throws its problems. */
export function build(yaml: string, random?: () => number): RouteTable {
  const result = loadConfigText(UPSTREAMS + yaml, "test.yaml", {});
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join("\n"));
  return compileTable(
    result.loaded.config,
    random === undefined ? { codegen: CODEGEN } : { random, codegen: CODEGEN },
  );
}

export interface WhenOptions {
  /** Top-level YAML before `routes:` (region, features). */
  extra?: string;
  /** The route's name (the default hash salt), "r" unless given. */
  route?: string;
  random?: () => number;
}

/** One route (no match) whose only rule "hit" sends `when` to canary. */
export function whenTable(when: string, options: WhenOptions = {}): RouteTable {
  return build(
    `${options.extra ?? ""}
routes:
  - name: ${options.route ?? "r"}
    versions: { stable: v1, canary: v2 }
    rules:
      - { name: hit, when: ${when}, to: canary }
`,
    options.random,
  );
}

export interface FactsInit extends Partial<Omit<RequestFacts, "headers">> {
  headers?: Record<string, string | string[]>;
}

/** Facts with defaults: GET api.example.com/ from 203.0.113.9, untrusted, no headers. */
export function facts(init: FactsInit = {}): RequestFacts {
  const headers: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of Object.entries(init.headers ?? {})) headers[name] = value;
  return {
    method: "GET",
    host: "api.example.com",
    path: "/",
    query: "",
    clientAddress: "203.0.113.9",
    trustedPeer: false,
    ...init,
    headers: headers as HeaderBag,
  };
}

/** The decision without the compiled route, for comparing decisions across tables. */
export function outcome(decision: Decision): Omit<Decision, "compiled"> {
  const { compiled: _, ...rest } = decision;
  return { ...rest, features: [...rest.features] };
}

/** A generator that replays `values` in turn (for the `random` condition). */
export function dice(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}
