/**
 * Matchers compiled to flat data and tested by one function, `matches`: a
 * call site that tests many different matchers stays monomorphic, where a
 * closure per matcher would make it megamorphic. Regexes are built here, once.
 * The value is undefined when the header, cookie or parameter is absent.
 */
import type { MatcherInput } from "../config/schema.ts";

export const EQUALS = 0;
export const ONE_OF = 1;
export const PREFIX = 2;
export const SUFFIX = 3;
export const REGEX = 4;
export const PRESENT = 5;
export const ABSENT = 6;
export const NOT = 7;
/** A wildcard host "*.example.com": `text` holds ".example.com". */
export const SUBDOMAIN = 8;
/** A short list: comparing a few strings beats hashing one. */
export const FEW_OF = 9;

/** One compiled matcher; every instance has the same shape. */
export class Matcher {
  readonly kind: number;
  readonly text: string;
  readonly set: ReadonlySet<string> | undefined;
  /** ONE_OF: the wildcard suffixes (".example.com") it also admits; FEW_OF: its values. */
  readonly strings: readonly string[];
  readonly regex: RegExp | undefined;
  readonly inner: Matcher | undefined;

  constructor(
    kind: number,
    text = "",
    set?: ReadonlySet<string>,
    strings: readonly string[] = [],
    regex?: RegExp,
    inner?: Matcher,
  ) {
    this.kind = kind;
    this.text = text;
    this.set = set;
    this.strings = strings;
    this.regex = regex;
    this.inner = inner;
  }
}

function isSubdomain(value: string, suffix: string): boolean {
  return value.length > suffix.length && value.endsWith(suffix);
}

export function matches(m: Matcher, value: string | undefined): boolean {
  switch (m.kind) {
    case EQUALS:
      return value === m.text;
    case ONE_OF: {
      if (value === undefined) return false;
      if ((m.set as ReadonlySet<string>).has(value)) return true;
      const subdomains = m.strings;
      for (let i = 0; i < subdomains.length; i++) {
        if (isSubdomain(value, subdomains[i] as string)) return true;
      }
      return false;
    }
    case PREFIX:
      return value?.startsWith(m.text) === true;
    case SUFFIX:
      return value?.endsWith(m.text) === true;
    case REGEX:
      return value !== undefined && (m.regex as RegExp).test(value);
    case PRESENT:
      return value !== undefined;
    case ABSENT:
      return value === undefined;
    case SUBDOMAIN:
      return value !== undefined && isSubdomain(value, m.text);
    case FEW_OF: {
      const list = m.strings;
      for (let i = 0; i < list.length; i++) if (list[i] === value) return true;
      return false;
    }
    default:
      return !matches(m.inner as Matcher, value);
  }
}

export interface MatcherOptions {
  /** Applied to the strings of equals/in/prefix/suffix (hosts are lower-case, methods upper). */
  normalize?: (text: string) => string;
  /** `*.example.com` in equals/in/list forms matches any subdomain, not the apex. */
  wildcards?: boolean;
}

function oneOf(list: readonly string[], options: MatcherOptions): Matcher {
  const isWild = (s: string) => options.wildcards === true && s.startsWith("*.");
  const exact = list.filter((s) => !isWild(s));
  const subdomains = list.filter(isWild).map((s) => s.slice(1));
  if (exact.length === 1 && subdomains.length === 0) return new Matcher(EQUALS, exact[0]);
  if (exact.length === 0 && subdomains.length === 1) return new Matcher(SUBDOMAIN, subdomains[0]);
  if (subdomains.length === 0 && exact.length <= 4) {
    return new Matcher(FEW_OF, "", undefined, [...new Set(exact)]);
  }
  return new Matcher(ONE_OF, "", new Set(exact), subdomains);
}

export function compileMatcher(input: MatcherInput, options: MatcherOptions = {}): Matcher {
  const norm = options.normalize ?? ((text: string) => text);
  if (typeof input === "string") return oneOf([norm(input)], options);
  if (Array.isArray(input)) return oneOf(input.map(norm), options);
  if ("equals" in input) return oneOf([norm(input.equals)], options);
  if ("in" in input) return oneOf(input.in.map(norm), options);
  if ("prefix" in input) return new Matcher(PREFIX, norm(input.prefix));
  if ("suffix" in input) return new Matcher(SUFFIX, norm(input.suffix));
  if ("regex" in input)
    return new Matcher(REGEX, input.regex, undefined, [], new RegExp(input.regex));
  if ("present" in input) return new Matcher(input.present ? PRESENT : ABSENT);
  return new Matcher(NOT, "", undefined, [], undefined, compileMatcher(input.not, options));
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
