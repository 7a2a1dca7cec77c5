/**
 * Compiling a list of conditions into one JavaScript function, once per
 * config. The generated code reads each header as a named property (its own
 * inline cache, where a shared helper would be megamorphic) and tests each
 * matcher inline, so that a rule costs one call instead of one per condition
 * and matcher.
 *
 * Safety: config text never becomes code. Strings enter the source only as
 * JSON.stringify literals; everything else (regexes, sets, CIDR sets, hash
 * closures) is passed in the constant array `K` and referred to by index.
 */
import { cookieValue, headerValue, queryValue } from "./lookup.ts";
import {
  ABSENT,
  EQUALS,
  FEW_OF,
  type Matcher,
  NOT,
  ONE_OF,
  PREFIX,
  PRESENT,
  REGEX,
  SUBDOMAIN,
  SUFFIX,
} from "./matcher.ts";

/** Constants the generated code refers to as `K[i]`. */
export class ConstantPool {
  readonly values: unknown[] = [];

  ref(value: unknown): string {
    this.values.push(value);
    return `K[${this.values.length - 1}]`;
  }
}

/** Writes a condition as a boolean expression over `c` (the evaluation), `f` (facts), `h` (headers). */
export type Emitter = (pool: ConstantPool) => string;

const literal = (text: string) => JSON.stringify(text);

/**
 * A matcher as an expression over `value`, an expression that is evaluated
 * once (it is stored in the scratch variable `v`).
 */
export function matcherExpression(m: Matcher, value: string, pool: ConstantPool): string {
  return `(v = ${value}, ${testOnV(m, pool)})`;
}

function testOnV(m: Matcher, pool: ConstantPool): string {
  switch (m.kind) {
    case EQUALS:
      return `v === ${literal(m.text)}`;
    case FEW_OF:
      return `(${m.strings.map((s) => `v === ${literal(s)}`).join(" || ")})`;
    case ONE_OF: {
      const wild = m.strings.map(
        (suffix) => ` || (v.length > ${suffix.length} && v.endsWith(${literal(suffix)}))`,
      );
      return `(v !== undefined && (${pool.ref(m.set)}.has(v)${wild.join("")}))`;
    }
    case PREFIX:
      return `(v !== undefined && v.startsWith(${literal(m.text)}))`;
    case SUFFIX:
      return `(v !== undefined && v.endsWith(${literal(m.text)}))`;
    case REGEX:
      return `(v !== undefined && ${pool.ref(m.regex)}.test(v))`;
    case PRESENT:
      return "v !== undefined";
    case ABSENT:
      return "v === undefined";
    case SUBDOMAIN:
      return `(v !== undefined && v.length > ${m.text.length} && v.endsWith(${literal(m.text)}))`;
    case NOT:
      return `!(${testOnV(m.inner as Matcher, pool)})`;
    default:
      throw new Error(`unknown matcher kind ${m.kind}`);
  }
}

/** A header's value: Node gives a string for every header but set-cookie. */
export function headerExpression(lowerName: string): string {
  const name = literal(lowerName);
  return `(typeof h[${name}] === "string" ? h[${name}] : HV(h, ${name}))`;
}

export function cookieExpression(name: string): string {
  return `CV(${headerExpression("cookie")}, ${literal(name)})`;
}

export function queryExpression(name: string): string {
  return `QV(f.query, ${literal(name)})`;
}

let codegenAvailable = true;

/**
 * One function for the AND of `emitters`, or undefined where the runtime
 * forbids code generation (node --disallow-code-generation-from-strings).
 */
export function generatePredicate<Context>(
  emitters: readonly Emitter[],
): ((ctx: Context) => boolean) | undefined {
  if (!codegenAvailable) return undefined;
  const pool = new ConstantPool();
  const body = emitters.length === 0 ? "true" : emitters.map((emit) => emit(pool)).join(" && ");
  const source = `"use strict";
return function holds(c) {
  let v, a;
  const f = c.facts, h = f.headers;
  return ${body};
};`;
  try {
    const factory = new Function("K", "HV", "CV", "QV", source) as (
      ...args: unknown[]
    ) => (ctx: Context) => boolean;
    return factory(pool.values, headerValue, cookieValue, queryValue);
  } catch (error) {
    if (error instanceof EvalError) {
      codegenAvailable = false;
      return undefined;
    }
    throw error;
  }
}
