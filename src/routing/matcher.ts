/**
 * Matchers compiled to plain functions of the value (undefined when the
 * header, cookie or parameter is absent). Regexes are built here, once.
 */
import type { MatcherInput } from "../config/schema.ts";

export type ValueTest = (value: string | undefined) => boolean;

export interface MatcherOptions {
  /** Applied to the strings of equals/in/prefix/suffix (hosts are lower-case, methods upper). */
  normalize?: (text: string) => string;
  /** `*.example.com` in equals/in/list forms matches any subdomain, not the apex. */
  wildcards?: boolean;
}

function equalsTest(expected: string, options: MatcherOptions): ValueTest {
  if (options.wildcards === true && expected.startsWith("*.")) {
    const suffix = expected.slice(1); // ".example.com"
    return (value) => value !== undefined && value.length > suffix.length && value.endsWith(suffix);
  }
  return (value) => value === expected;
}

function anyOfTest(list: readonly string[], options: MatcherOptions): ValueTest {
  const wild = options.wildcards === true ? list.filter((s) => s.startsWith("*.")) : [];
  const exact = new Set(list.filter((s) => !wild.includes(s)));
  if (wild.length === 0) {
    if (exact.size === 1) return equalsTest([...exact][0] as string, options);
    return (value) => value !== undefined && exact.has(value);
  }
  const wildTests = wild.map((w) => equalsTest(w, options));
  return (value) => {
    if (value === undefined) return false;
    if (exact.has(value)) return true;
    for (const test of wildTests) if (test(value)) return true;
    return false;
  };
}

export function compileMatcher(input: MatcherInput, options: MatcherOptions = {}): ValueTest {
  const norm = options.normalize ?? ((text: string) => text);
  if (typeof input === "string") return equalsTest(norm(input), options);
  if (Array.isArray(input)) return anyOfTest(input.map(norm), options);
  if ("equals" in input) return equalsTest(norm(input.equals), options);
  if ("in" in input) return anyOfTest(input.in.map(norm), options);
  if ("prefix" in input) {
    const prefix = norm(input.prefix);
    return (value) => value?.startsWith(prefix) === true;
  }
  if ("suffix" in input) {
    const suffix = norm(input.suffix);
    return (value) => value?.endsWith(suffix) === true;
  }
  if ("regex" in input) {
    const re = new RegExp(input.regex);
    return (value) => value !== undefined && re.test(value);
  }
  if ("present" in input) {
    return input.present ? (value) => value !== undefined : (value) => value === undefined;
  }
  const inner = compileMatcher(input.not, options);
  return (value) => !inner(value);
}

/** Exact hosts a host matcher admits, when it admits nothing else (for the route index). */
export function exactHosts(input: MatcherInput): string[] | undefined {
  const list =
    typeof input === "string"
      ? [input]
      : Array.isArray(input)
        ? input
        : "equals" in input
          ? [input.equals]
          : "in" in input
            ? input.in
            : undefined;
  if (list === undefined || list.some((host) => host.startsWith("*."))) return undefined;
  return list.map((host) => host.toLowerCase());
}

/** A short human description of a matcher, for explain. */
export function describeMatcher(input: MatcherInput): string {
  if (typeof input === "string") return JSON.stringify(input);
  if (Array.isArray(input)) return `any of ${JSON.stringify(input)}`;
  if ("equals" in input) return JSON.stringify(input.equals);
  if ("in" in input) return `any of ${JSON.stringify(input.in)}`;
  if ("prefix" in input) return `prefix ${JSON.stringify(input.prefix)}`;
  if ("suffix" in input) return `suffix ${JSON.stringify(input.suffix)}`;
  if ("regex" in input) return `/${input.regex}/`;
  if ("present" in input) return input.present ? "present" : "absent";
  return `not ${describeMatcher(input.not)}`;
}
