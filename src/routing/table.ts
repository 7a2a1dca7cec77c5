/**
 * A validated config compiled into an immutable routing table. `decide`
 * reads only the request facts and the table: no I/O, no clock; the one
 * source of chance is the `random` condition, whose generator is injected.
 */

import { DEFAULT_RULE, NO_MATCH, STABLE } from "../config/names.ts";
import type { Conditions, Config, HashCondition, MatcherInput } from "../config/schema.ts";
import { CidrSet, ParsedAddress } from "../net/cidr.ts";
import { bucketOf, type HashPrefix, murmur3From, saltPrefix, thresholdOf } from "./bucket.ts";
import {
  cookieExpression,
  type Emitter,
  generatePredicate,
  headerExpression,
  matcherExpression,
  queryExpression,
} from "./codegen.ts";
import { cookieValue, type HeaderBag, headerValue, queryValue } from "./lookup.ts";
import { compileMatcher, describeMatcher, exactHosts, type Matcher, matches } from "./matcher.ts";

/** What graygate knows of a request when it decides. */
export interface RequestFacts {
  method: string;
  /** Host without port, lower-cased (see `hostOf`). */
  host: string;
  /** The URL path, without the query. */
  path: string;
  /** The raw query string without "?", "" when none. */
  query: string;
  /** Lower-case header names, as Node gives them. */
  headers: HeaderBag;
  /** The client address after trustedProxies (see `clientAddress`). */
  clientAddress: string;
  /** Whether the peer is a trusted proxy: only then is the region header believed. */
  trustedPeer: boolean;
}

/** The hash evaluated for a decision: the deciding rule's, else the first that failed. */
export interface HashDetail {
  /** The key spec that yielded the value, e.g. "header:x-user-id". */
  key: string;
  value: string;
  bucket: number;
  threshold: number;
}

export interface Decision {
  /** Route name, or "none" when no route matched. */
  route: string;
  version: string;
  /** Rule name, or "default" when none matched. */
  rule: string;
  upstream: string;
  features: readonly string[];
  /** The features, comma-joined, for x-graygate-features ("" when none). */
  featuresHeader: string;
  hash: HashDetail | undefined;
  /** The compiled route, for the proxy (fallback, other versions); undefined when none matched. */
  compiled: CompiledRoute | undefined;
}

type Predicate = (ctx: Evaluation) => boolean;

/** One condition of a `when` or `match`, kept with a description for explain. */
export interface CompiledCondition {
  /** e.g. "header x-canary", "hash", "region". */
  readonly name: string;
  readonly describe: string;
  readonly test: Predicate;
  /** The same test as source, for `generatePredicate`. */
  readonly emit: Emitter;
  /** Set for hash conditions, for explain. */
  readonly hash: CompiledHash | undefined;
}

/** Every condition has the same shape, so the hot loops see one hidden class. */
function condition(
  name: string,
  describe: string,
  test: Predicate,
  emit: Emitter,
  hash?: CompiledHash,
): CompiledCondition {
  return { name, describe, test, emit, hash };
}

/**
 * One predicate for a list of conditions (ANDed): generated code where the
 * runtime allows it, else the closures, unrolled for the usual short lists.
 */
function allOf(conditions: readonly CompiledCondition[], codegen: boolean): Predicate {
  if (!codegen) return allOfClosures(conditions);
  const generated = generatePredicate<Evaluation>(conditions.map((c) => c.emit));
  if (generated !== undefined) return generated;
  return allOfClosures(conditions);
}

/** The closure form of `allOf`: the fallback where code generation is off or forbidden. */
export function allOfClosures(conditions: readonly CompiledCondition[]): Predicate {
  const tests = conditions.map((c) => c.test);
  const [a, b, c] = tests;
  switch (tests.length) {
    case 0:
      return () => true;
    case 1:
      return a as Predicate;
    case 2:
      return (ctx) => (a as Predicate)(ctx) && (b as Predicate)(ctx);
    case 3:
      return (ctx) => (a as Predicate)(ctx) && (b as Predicate)(ctx) && (c as Predicate)(ctx);
    default:
      return (ctx) => {
        for (let i = 0; i < tests.length; i++) if (!(tests[i] as Predicate)(ctx)) return false;
        return true;
      };
  }
}

interface CompiledHash {
  readonly keys: readonly HashKey[];
  readonly prefix: HashPrefix;
  readonly threshold: number;
  readonly percent: number;
  readonly salt: string;
}

const HASH_KEY_KIND = { header: 0, cookie: 1, query: 2, ip: 3 } as const;
interface HashKey {
  readonly kind: 0 | 1 | 2 | 3;
  readonly name: string;
  readonly spec: string;
}

export interface CompiledRule {
  readonly name: string;
  readonly enabled: boolean;
  readonly to: string;
  readonly upstream: string;
  readonly conditions: readonly CompiledCondition[];
  readonly holds: Predicate;
}

export interface CompiledRoute {
  readonly name: string;
  readonly index: number;
  readonly match: readonly CompiledCondition[];
  readonly matches: Predicate;
  /** version → upstream name, in config order (stable first). */
  readonly versions: ReadonlyMap<string, string>;
  readonly stableUpstream: string;
  readonly fallback: boolean;
  readonly rules: readonly CompiledRule[];
}

export interface CompiledFeature {
  readonly name: string;
  readonly enabled: boolean;
  readonly conditions: readonly CompiledCondition[];
  readonly holds: Predicate;
}

/** A route as a candidate for one host: its match, less a host test the index already made. */
interface Candidate {
  readonly route: CompiledRoute;
  /** The route's path prefix, tested inline ("" when it has none, or another kind of path test). */
  readonly pathPrefix: string;
  /** The rest of the match. */
  readonly matches: Predicate;
}

interface FeatureSet {
  readonly names: readonly string[];
  readonly header: string;
}

export interface TableOptions {
  /** A number in [0, 1): the `random` condition's dice. */
  random?: () => number;
  /** false: test with the closures instead of generated code (for tests and comparison). */
  codegen?: boolean;
}

/**
 * Per-decision scratch: the facts and what was derived from them lazily
 * (address, region, the last hash). Reused across calls; `decide` is
 * synchronous, so one per table is enough.
 */
class Evaluation {
  facts!: RequestFacts;
  private addressState = 0; // 0 unparsed, 1 parsed, 2 not an address
  private readonly address = new ParsedAddress();
  private regionState = false;
  private regionValue: string | undefined;
  hashKey = "";
  hashValue = "";
  hashBucket = -1;
  hashThreshold = -1;

  private readonly regionHeader: string | undefined;
  private readonly regionCidrs: readonly (readonly [string, CidrSet])[];
  readonly random: () => number;

  constructor(
    regionHeader: string | undefined,
    regionCidrs: readonly (readonly [string, CidrSet])[],
    random: () => number,
  ) {
    this.regionHeader = regionHeader;
    this.regionCidrs = regionCidrs;
    this.random = random;
  }

  reset(facts: RequestFacts): void {
    this.facts = facts;
    this.addressState = 0;
    this.regionState = false;
    this.hashBucket = -1;
  }

  parsedAddress(): ParsedAddress | undefined {
    if (this.addressState === 0) {
      this.addressState = this.address.parse(this.facts.clientAddress) ? 1 : 2;
    }
    return this.addressState === 1 ? this.address : undefined;
  }

  region(): string | undefined {
    if (!this.regionState) {
      this.regionState = true;
      this.regionValue = undefined;
      if (this.regionHeader !== undefined && this.facts.trustedPeer) {
        const fromHeader = headerValue(this.facts.headers, this.regionHeader);
        if (fromHeader !== undefined && fromHeader !== "") this.regionValue = fromHeader;
      }
      if (this.regionValue === undefined && this.regionCidrs.length > 0) {
        const address = this.parsedAddress();
        if (address !== undefined) {
          for (const [name, cidrs] of this.regionCidrs) {
            if (cidrs.contains(address)) {
              this.regionValue = name;
              break;
            }
          }
        }
      }
    }
    return this.regionValue;
  }
}

function hashKeyValue(ctx: Evaluation, key: HashKey): string | undefined {
  const facts = ctx.facts;
  switch (key.kind) {
    case 0:
      return headerValue(facts.headers, key.name);
    case 1:
      return cookieValue(headerValue(facts.headers, "cookie"), key.name);
    case 2:
      return queryValue(facts.query, key.name);
    default:
      return facts.clientAddress;
  }
}

function compileHash(hash: HashCondition, defaultSalt: string): CompiledHash {
  const specs = typeof hash.key === "string" ? [hash.key] : hash.key;
  const keys = specs.map((spec): HashKey => {
    if (spec === "ip") return { kind: HASH_KEY_KIND.ip, name: "", spec };
    const colon = spec.indexOf(":");
    const kind = spec.slice(0, colon) as "header" | "cookie" | "query";
    const name = spec.slice(colon + 1);
    return { kind: HASH_KEY_KIND[kind], name: kind === "header" ? name.toLowerCase() : name, spec };
  });
  const salt = hash.salt ?? defaultSalt;
  return {
    keys,
    prefix: saltPrefix(salt),
    threshold: thresholdOf(hash.percent),
    percent: hash.percent,
    salt,
  };
}

function hashPredicate(hash: CompiledHash): Predicate {
  const { keys, prefix, threshold } = hash;
  return (ctx) => {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as HashKey;
      const value = hashKeyValue(ctx, key);
      if (value !== undefined && value !== "") {
        const bucket = bucketOf(murmur3From(prefix, value));
        if (ctx.hashBucket === -1) {
          ctx.hashKey = key.spec;
          ctx.hashValue = value;
          ctx.hashBucket = bucket;
          ctx.hashThreshold = threshold;
        }
        return bucket < threshold;
      }
    }
    return false;
  };
}

const toLower = (text: string) => text.toLowerCase();
const toUpper = (text: string) => text.toUpperCase();

/** A condition on one value, by a matcher: the closure and the generated form agree by construction. */
function valueCondition(
  name: string,
  describe: string,
  m: Matcher,
  read: (ctx: Evaluation) => string | undefined,
  readSource: string,
): CompiledCondition {
  return condition(
    name,
    describe,
    (ctx) => matches(m, read(ctx)),
    (pool) => matcherExpression(m, readSource, pool),
  );
}

function namedConditions(
  kind: "header" | "cookie" | "query",
  entries: Record<string, MatcherInput>,
): CompiledCondition[] {
  return Object.entries(entries).map(([rawName, matcher]) => {
    const m = compileMatcher(matcher);
    const describe = `${kind} ${rawName} ${describeMatcher(matcher)}`;
    if (kind === "header") {
      const name = rawName.toLowerCase();
      return valueCondition(
        `header ${name}`,
        describe,
        m,
        (ctx) => headerValue(ctx.facts.headers, name),
        headerExpression(name),
      );
    }
    if (kind === "cookie") {
      return valueCondition(
        `cookie ${rawName}`,
        describe,
        m,
        (ctx) => cookieValue(headerValue(ctx.facts.headers, "cookie"), rawName),
        cookieExpression(rawName),
      );
    }
    return valueCondition(
      `query ${rawName}`,
      describe,
      m,
      (ctx) => queryValue(ctx.facts.query, rawName),
      queryExpression(rawName),
    );
  });
}

function compileConditions(when: Conditions | undefined, defaultSalt: string): CompiledCondition[] {
  if (when === undefined) return [];
  const out: CompiledCondition[] = [];
  // They are ANDed, so order changes cost, never the outcome: the most
  // selective and cheapest first, the hash (which hashes) last.
  if (when.path !== undefined) {
    const m = compileMatcher(when.path);
    const describe = `path ${describeMatcher(when.path)}`;
    out.push(valueCondition("path", describe, m, (ctx) => ctx.facts.path, "f.path"));
  }
  if (when.host !== undefined) {
    const m = compileMatcher(when.host, { normalize: toLower, wildcards: true });
    const describe = `host ${describeMatcher(when.host)}`;
    out.push(valueCondition("host", describe, m, (ctx) => ctx.facts.host, "f.host"));
  }
  if (when.method !== undefined) {
    const m = compileMatcher(when.method, { normalize: toUpper });
    const describe = `method ${describeMatcher(when.method)}`;
    out.push(valueCondition("method", describe, m, (ctx) => ctx.facts.method, "f.method"));
  }
  if (when.header !== undefined) out.push(...namedConditions("header", when.header));
  if (when.cookie !== undefined) out.push(...namedConditions("cookie", when.cookie));
  if (when.query !== undefined) out.push(...namedConditions("query", when.query));
  if (when.ip !== undefined) {
    const list = typeof when.ip === "string" ? [when.ip] : when.ip;
    const cidrs = new CidrSet(list);
    out.push(
      condition(
        "ip",
        `ip in ${list.join(", ")}`,
        (ctx) => {
          const address = ctx.parsedAddress();
          return address !== undefined && cidrs.contains(address);
        },
        (pool) => `((a = c.parsedAddress()) !== undefined && ${pool.ref(cidrs)}.contains(a))`,
      ),
    );
  }
  if (when.region !== undefined) {
    const m = compileMatcher(when.region);
    const describe = `region ${describeMatcher(when.region)}`;
    out.push(valueCondition("region", describe, m, (ctx) => ctx.region(), "c.region()"));
  }
  if (when.random !== undefined) {
    const threshold = thresholdOf(when.random);
    out.push(
      condition(
        "random",
        `random ${when.random}%`,
        (ctx) => ctx.random() * 10_000 < threshold,
        () => `c.random() * 10000 < ${threshold}`,
      ),
    );
  }
  if (when.hash !== undefined) {
    const hash = compileHash(when.hash, defaultSalt);
    const keys = hash.keys.map((k) => k.spec).join(" | ");
    const test = hashPredicate(hash);
    out.push(
      condition(
        "hash",
        `hash of ${keys} below ${hash.percent}% (salt "${hash.salt}")`,
        test,
        (pool) => `${pool.ref(test)}(c)`,
        hash,
      ),
    );
  }
  return out;
}

function hashDetail(ctx: Evaluation): HashDetail {
  return {
    key: ctx.hashKey,
    value: ctx.hashValue,
    bucket: ctx.hashBucket,
    threshold: ctx.hashThreshold,
  };
}

const NO_FEATURES: FeatureSet = { names: [], header: "" };
const FEATURE_CACHE_LIMIT = 1024;

interface PrefixIndex {
  readonly length: number;
  /** prefix → a bit per candidate (by position) with that prefix. */
  readonly byPrefix: ReadonlyMap<string, number>;
}

/**
 * The candidate routes for one host. When they are few enough for a 31-bit
 * set and use few prefix lengths, path prefixes are indexed: a request then
 * costs a lookup per prefix length instead of a test per route.
 */
class CandidateList {
  readonly candidates: readonly Candidate[];
  /** Empty when not indexed: then every candidate is tried in turn. */
  readonly prefixes: readonly PrefixIndex[];
  /** Bits of the candidates without a path prefix (always tried). */
  readonly unprefixed: number;

  constructor(candidates: readonly Candidate[]) {
    this.candidates = candidates;
    const lengths = [...new Set(candidates.map((c) => c.pathPrefix.length).filter((n) => n > 0))];
    const worthIt = candidates.length >= 4 && candidates.length <= 31 && lengths.length <= 4;
    let unprefixed = 0;
    const indexes = new Map<number, Map<string, number>>();
    if (worthIt) {
      candidates.forEach((candidate, i) => {
        const prefix = candidate.pathPrefix;
        if (prefix === "") {
          unprefixed |= 1 << i;
          return;
        }
        let byPrefix = indexes.get(prefix.length);
        if (byPrefix === undefined) {
          byPrefix = new Map();
          indexes.set(prefix.length, byPrefix);
        }
        byPrefix.set(prefix, (byPrefix.get(prefix) ?? 0) | (1 << i));
      });
    }
    this.unprefixed = unprefixed;
    this.prefixes = [...indexes]
      .sort(([a], [b]) => a - b)
      .map(([length, byPrefix]) => ({ length, byPrefix }));
  }
}

export class RouteTable {
  readonly routes: readonly CompiledRoute[];
  readonly features: readonly CompiledFeature[];
  readonly trustedProxies: CidrSet;
  /** exact host → candidate routes in order; hosts not listed use `otherHostRoutes`. */
  private readonly routesByHost: ReadonlyMap<string, CandidateList>;
  private readonly otherHostRoutes: CandidateList;
  /** The same index as two arrays, when it has few hosts; else undefined. */
  private readonly hostList: readonly string[] | undefined;
  private readonly hostCandidates: readonly CandidateList[];
  private readonly evaluation: Evaluation;
  private readonly featureSets = new Map<number, FeatureSet>();
  private readonly noMatch: Decision;

  constructor(config: Config, options: TableOptions = {}) {
    const codegen = options.codegen !== false;
    this.trustedProxies = new CidrSet(config.server.trustedProxies);
    const regionCidrs = Object.entries(config.region?.cidrs ?? {}).map(
      ([name, cidrs]) => [name, new CidrSet(cidrs)] as const,
    );
    this.evaluation = new Evaluation(
      config.region?.header?.toLowerCase(),
      regionCidrs,
      options.random ?? Math.random,
    );

    this.routes = config.routes.map((route, index): CompiledRoute => {
      const versions = new Map<string, string>();
      const stable = route.versions.stable as string;
      versions.set(STABLE, stable);
      for (const [version, upstream] of Object.entries(route.versions))
        versions.set(version, upstream);
      const match = compileConditions(route.match, route.name);
      return {
        name: route.name,
        index,
        match,
        matches: allOf(match, codegen),
        versions,
        stableUpstream: stable,
        fallback: route.fallback,
        rules: route.rules.map((rule): CompiledRule => {
          const conditions = compileConditions(rule.when, route.name);
          return {
            name: rule.name,
            enabled: rule.enabled,
            to: rule.to,
            upstream: versions.get(rule.to) as string,
            conditions,
            holds: allOf(conditions, codegen),
          };
        }),
      };
    });

    // Index routes by exact host; a route with any other host test is a candidate for all.
    const exact = config.routes.map((route) =>
      route.match?.host === undefined ? undefined : exactHosts(route.match.host),
    );
    const hosts = new Set(exact.flatMap((list) => list ?? []));
    const candidate = (route: CompiledRoute, hostChecked: boolean): Candidate => {
      const path = config.routes[route.index]?.match?.path;
      const pathPrefix =
        typeof path === "object" && !Array.isArray(path) && "prefix" in path ? path.prefix : "";
      const rest = route.match.filter(
        (c) => !(hostChecked && c.name === "host") && !(pathPrefix !== "" && c.name === "path"),
      );
      return { route, pathPrefix, matches: allOf(rest, codegen) };
    };
    const byHost = new Map<string, Candidate[]>();
    for (const host of hosts) {
      const candidates: Candidate[] = [];
      this.routes.forEach((route, i) => {
        const list = exact[i];
        if (list === undefined) candidates.push(candidate(route, false));
        else if (list.includes(host)) candidates.push(candidate(route, true));
      });
      byHost.set(host, candidates);
    }
    this.routesByHost = new Map([...byHost].map(([host, list]) => [host, new CandidateList(list)]));
    this.hostList = byHost.size <= 8 ? [...this.routesByHost.keys()] : undefined;
    this.hostCandidates = [...this.routesByHost.values()];
    this.otherHostRoutes = new CandidateList(
      this.routes.filter((_, i) => exact[i] === undefined).map((route) => candidate(route, false)),
    );

    this.features = Object.entries(config.features).map(([name, feature]) => {
      const conditions = compileConditions(feature.when, name);
      return { name, enabled: feature.enabled, conditions, holds: allOf(conditions, codegen) };
    });

    this.noMatch = {
      route: NO_MATCH,
      version: NO_MATCH,
      rule: DEFAULT_RULE,
      upstream: NO_MATCH,
      features: [],
      featuresHeader: "",
      hash: undefined,
      compiled: undefined,
    };
  }

  /** The route candidates for a host, in config order. */
  private candidates(host: string): CandidateList {
    // A few hosts (the usual case): comparing strings beats hashing a new one.
    const hosts = this.hostList;
    if (hosts !== undefined) {
      for (let i = 0; i < hosts.length; i++) {
        if (hosts[i] === host) return this.hostCandidates[i] as CandidateList;
      }
      return this.otherHostRoutes;
    }
    return this.routesByHost.get(host) ?? this.otherHostRoutes;
  }

  /** The first route whose match holds, or undefined. */
  matchRoute(facts: RequestFacts): CompiledRoute | undefined {
    const ctx = this.evaluation;
    ctx.reset(facts);
    return this.findRoute(ctx);
  }

  private findRoute(ctx: Evaluation): CompiledRoute | undefined {
    const list = this.candidates(ctx.facts.host);
    const candidates = list.candidates;
    const path = ctx.facts.path;
    if (list.prefixes.length === 0) {
      for (let i = 0; i < candidates.length; i++) {
        const candidate = candidates[i] as Candidate;
        if (path.startsWith(candidate.pathPrefix) && candidate.matches(ctx)) return candidate.route;
      }
      return undefined;
    }
    // Indexed: one map lookup per distinct prefix length gives the candidates
    // whose prefix matches, as bits; they are then tried in config order.
    let bits = list.unprefixed;
    const prefixes = list.prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      const index = prefixes[i] as PrefixIndex;
      if (index.length > path.length) break;
      const found = index.byPrefix.get(
        path.length === index.length ? path : path.slice(0, index.length),
      );
      if (found !== undefined) bits |= found;
    }
    while (bits !== 0) {
      const lowest = bits & -bits;
      const candidate = candidates[31 - Math.clz32(lowest)] as Candidate;
      if (candidate.matches(ctx)) return candidate.route;
      bits ^= lowest;
    }
    return undefined;
  }

  decide(facts: RequestFacts): Decision {
    const ctx = this.evaluation;
    ctx.reset(facts);
    const route = this.findRoute(ctx);
    if (route === undefined) return this.noMatch;
    let chosen: CompiledRule | undefined;
    // The first hash that failed, kept in locals: most decisions never report it.
    let failedKey = "";
    let failedValue = "";
    let failedBucket = -1;
    let failedThreshold = -1;
    const rules = route.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as CompiledRule;
      if (!rule.enabled) continue;
      ctx.hashBucket = -1;
      if (rule.holds(ctx)) {
        chosen = rule;
        break;
      }
      if (failedBucket === -1 && ctx.hashBucket !== -1) {
        failedKey = ctx.hashKey;
        failedValue = ctx.hashValue;
        failedBucket = ctx.hashBucket;
        failedThreshold = ctx.hashThreshold;
      }
    }
    // Read before features run: their hash conditions reuse the same registers.
    const hash =
      chosen !== undefined && ctx.hashBucket !== -1
        ? hashDetail(ctx)
        : failedBucket === -1
          ? undefined
          : {
              key: failedKey,
              value: failedValue,
              bucket: failedBucket,
              threshold: failedThreshold,
            };
    const features = this.enabledFeatures(ctx);
    return {
      route: route.name,
      version: chosen === undefined ? STABLE : chosen.to,
      rule: chosen === undefined ? DEFAULT_RULE : chosen.name,
      upstream: chosen === undefined ? route.stableUpstream : chosen.upstream,
      features: features.names,
      featuresHeader: features.header,
      hash,
      compiled: route,
    };
  }

  private enabledFeatures(ctx: Evaluation): FeatureSet {
    const features = this.features;
    if (features.length === 0) return NO_FEATURES;
    if (features.length > 30) return this.featureSetSlow(ctx);
    let mask = 0;
    for (let i = 0; i < features.length; i++) {
      const feature = features[i] as CompiledFeature;
      if (feature.enabled && feature.holds(ctx)) mask |= 1 << i;
    }
    if (mask === 0) return NO_FEATURES;
    let set = this.featureSets.get(mask);
    if (set === undefined) {
      const names = features.filter((_, i) => (mask & (1 << i)) !== 0).map((f) => f.name);
      set = { names, header: names.join(",") };
      if (this.featureSets.size < FEATURE_CACHE_LIMIT) this.featureSets.set(mask, set);
    }
    return set;
  }

  private featureSetSlow(ctx: Evaluation): FeatureSet {
    const names = this.features.filter((f) => f.enabled && f.holds(ctx)).map((f) => f.name);
    return names.length === 0 ? NO_FEATURES : { names, header: names.join(",") };
  }

  /** For explain: evaluate with the same compiled conditions, one at a time. */
  evaluateConditions(
    facts: RequestFacts,
    conditions: readonly CompiledCondition[],
  ): { name: string; describe: string; holds: boolean; hash?: HashDetail }[] {
    const ctx = this.evaluation;
    ctx.reset(facts);
    return conditions.map((condition) => {
      ctx.hashBucket = -1;
      const holds = condition.test(ctx);
      const hash =
        condition.hash !== undefined && ctx.hashBucket !== -1 ? hashDetail(ctx) : undefined;
      return hash === undefined
        ? { name: condition.name, describe: condition.describe, holds }
        : { name: condition.name, describe: condition.describe, holds, hash };
    });
  }
}

export function compileTable(config: Config, options?: TableOptions): RouteTable {
  return new RouteTable(config, options);
}
