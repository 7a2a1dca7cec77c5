/**
 * The config's one source of truth: validation, TypeScript types
 * (`z.output<typeof configSchema>`) and the JSON Schema shipped in
 * `config/graygate.schema.json` all come from here.
 *
 * Checks that need the whole document (names that refer to each other) live
 * in `crosscheck.ts`; checks on a single value (regexes, CIDRs, durations)
 * live here, on the value, so that their errors point at it.
 */
import { z } from "zod";
import { isValidCidr } from "../net/cidr.ts";
import { HOP_BY_HOP_HEADERS } from "../net/hop-by-hop.ts";
import { DURATION_PATTERN, parseDuration } from "./duration.ts";
import { isValidListen } from "./listen.ts";
import { FEATURES_HEADER, REQUEST_ID_HEADER, RULE_HEADER, VERSION_HEADER } from "./names.ts";
import { targetProblem } from "./target.ts";

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const nameText = "a name: letters, digits, '.', '_' or '-', starting with a letter or digit";

/** Headers the version header must not replace: hop-by-hop, framing, routing and graygate's own. */
const RESERVED_VERSION_HEADERS = new Set([
  ...HOP_BY_HOP_HEADERS,
  "host",
  "content-length",
  "content-type",
  "expect",
  "cookie",
  "set-cookie",
  "authorization",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  REQUEST_ID_HEADER,
  RULE_HEADER,
  FEATURES_HEADER,
]);

/** Header names are RFC 9110 tokens. */
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const name = z
  .string()
  .regex(NAME_PATTERN, { error: `must be ${nameText}` })
  // JavaScript orders digit-only keys first, which would lose the order of regions and features.
  .refine((text) => !/^[0-9]+$/.test(text), {
    error: 'must not be digits alone: write "v2" or "r2024", not "2" or "2024"',
  })
  .meta({ description: nameText });

/** Longest a Node timer can wait: about 24.8 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const duration = z
  .string({ error: 'must be a duration string such as "250ms", "10s", "5m", "1h" or "7d"' })
  .regex(DURATION_PATTERN, {
    error: 'must be a duration such as "250ms", "10s", "5m", "1h", "7d" or "1m30s"',
  })
  .transform(parseDuration)
  .refine((ms) => ms <= MAX_TIMER_MS, { error: "must be at most 24d (a timer's limit)" })
  .meta({ description: 'A duration: "250ms", "10s", "5m", "1h", "7d", or a sum such as "1m30s".' });

/** A timeout: 0 would mean "never" to Node and undici, so it must be positive. */
const timeout = duration.refine((ms) => ms > 0, { error: "must be longer than 0" });

export const percent = z
  .number({ error: "must be a number from 0 to 100" })
  .min(0, { error: "must be from 0 to 100" })
  .max(100, { error: "must be from 0 to 100" })
  .refine((p) => Math.abs(p * 100 - Math.round(p * 100)) < 1e-7, {
    error: "must have at most two decimals (the finest step is 0.01%)",
  })
  .meta({ description: "A percentage from 0 to 100, at most two decimals." });

export const cidr = z
  .string({ error: 'must be a CIDR string such as "10.0.0.0/8" or "2001:db8::/32"' })
  .refine(isValidCidr, {
    error: 'must be an IP address or CIDR such as "10.0.0.0/8" or "2001:db8::/32"',
  })
  .meta({ description: 'An IPv4 or IPv6 address or CIDR block, e.g. "10.0.0.0/8".' });

const cidrList = z.array(cidr);

const matchText = z.string({
  error: 'must be a string (quote numbers and booleans, e.g. "2")',
});

const regexText = matchText.superRefine((source, ctx) => {
  try {
    new RegExp(source);
  } catch (error) {
    const reason = (error as Error).message.replace(/^Invalid regular expression: /, "");
    ctx.addIssue({ code: "custom", message: `is not a valid regular expression: ${reason}` });
  }
});

/** The JSON shape of a matcher, as written in the file. */
export type MatcherInput =
  | string
  | string[]
  | { equals: string }
  | { in: string[] }
  | { prefix: string }
  | { suffix: string }
  | { regex: string }
  | { present: boolean }
  | { not: MatcherInput };

const matcherError =
  'must be a string, a list of strings, or one of {equals}, {in}, {prefix}, {suffix}, {regex}, {present}, {not} (quote numbers and booleans, e.g. "2")';

export const matcher: z.ZodType<MatcherInput> = z.lazy(() =>
  z
    .union(
      [
        matchText,
        z.array(matchText).min(1, { error: "must list at least one value" }),
        z.strictObject({ equals: matchText }),
        z.strictObject({
          in: z.array(matchText).min(1, { error: "must list at least one value" }),
        }),
        z.strictObject({ prefix: matchText }),
        z.strictObject({ suffix: matchText }),
        z.strictObject({ regex: regexText }),
        z.strictObject({ present: z.boolean({ error: "must be true or false" }) }),
        z.strictObject({ not: matcher }),
      ],
      { error: matcherError },
    )
    .meta({
      id: "Matcher",
      description:
        "A string (equals), a list (any of), or one of {equals}, {in}, {prefix}, {suffix}, {regex}, {present}, {not}.",
    }),
);

const namedMatchers = (what: string) =>
  z
    .record(z.string().regex(HEADER_NAME_PATTERN, { error: `must be a ${what} name` }), matcher, {
      error: `must be a map of ${what} name to matcher`,
    })
    .meta({ description: `Each named ${what} must match (all of them).` });

export const HASH_KEY_PATTERN = /^(?:(?:header|cookie|query):[!#$%&'*+.^_`|~0-9A-Za-z-]+|ip)$/;

const hashKey = z
  .string()
  .regex(HASH_KEY_PATTERN, { error: 'must be "header:NAME", "cookie:NAME", "query:NAME" or "ip"' })
  .meta({ description: '"header:NAME", "cookie:NAME", "query:NAME" or "ip".' });

export const hashCondition = z
  .strictObject({
    key: z.union([hashKey, z.array(hashKey).min(1, { error: "must list at least one key" })], {
      error: 'must be a key such as "header:x-user-id", or a list of keys',
    }),
    percent,
    salt: z.string().optional().meta({
      description: "Defaults to the route's (or feature's) name. A new salt reshuffles users.",
    }),
  })
  .meta({
    description: "Sticky percentage: the key's bucket (murmur3 of salt:key) is below the percent.",
  });

export const conditions = z
  .strictObject({
    host: matcher.optional(),
    path: matcher.optional(),
    method: matcher.optional(),
    header: namedMatchers("header").optional(),
    cookie: namedMatchers("cookie").optional(),
    query: namedMatchers("query parameter").optional(),
    region: matcher.optional(),
    ip: z
      .union([cidr, cidrList], { error: "must be a CIDR or a list of CIDRs" })
      .optional()
      .meta({ description: "The client address (after trustedProxies) is in one of these." }),
    hash: hashCondition.optional(),
    random: percent.optional().meta({ description: "Holds for this percentage of requests." }),
  })
  .meta({ id: "Conditions", description: "All conditions must hold." });

const listen = z
  .string()
  .refine(isValidListen, { error: 'must be "host:port" or ":port" with a port from 0 to 65535' })
  .meta({ description: '"host:port", "[v6]:port" or ":port".' });

const timeouts = z.strictObject({
  headers: timeout.prefault("10s").meta({ description: "The client must finish its headers." }),
  request: timeout.prefault("60s").meta({ description: "The client must finish its request." }),
  keepAlive: timeout.prefault("5s").meta({ description: "An idle client connection is closed." }),
  upstreamConnect: timeout.prefault("2s"),
  upstreamResponse: timeout
    .prefault("30s")
    .meta({ description: "The upstream must start answering." }),
});

const server = z.strictObject({
  listen: listen.default("0.0.0.0:8080"),
  workers: z
    .union([z.int().min(1, { error: "must be at least 1" }), z.literal("auto")], {
      error: 'must be a whole number of at least 1, or "auto"',
    })
    .default(1),
  trustedProxies: cidrList
    .default([])
    .meta({ description: "Peers whose X-Forwarded-For and region header are believed." }),
  maxHeaderBytes: z
    .int()
    .min(1024)
    .max(1_048_576)
    .default(16384)
    .meta({ description: "The request line and headers together; more is answered 431." }),
  maxHeaderCount: z
    .int()
    .min(8)
    .max(10_000)
    .default(100)
    .meta({ description: "Header fields a request may have; more is answered 431." }),
  timeouts: timeouts.prefault({}),
  drain: duration.prefault("20s").meta({ description: "Graceful shutdown budget." }),
  versionHeader: z
    .union([z.literal(""), z.string().regex(HEADER_NAME_PATTERN)], {
      error: 'must be a header name, or "" to turn it off',
    })
    .refine((name) => !RESERVED_VERSION_HEADERS.has(name.toLowerCase()), {
      error: "names a header graygate or HTTP already gives a meaning to",
    })
    // Node gives header names in lower case: compare and send it so.
    .transform((name) => name.toLowerCase())
    .default(VERSION_HEADER),
  tls: z
    .strictObject({
      cert: z.string().min(1).meta({ description: "PEM certificate chain file." }),
      key: z.string().min(1).meta({ description: "PEM private key file." }),
    })
    .optional()
    .meta({ description: "Serve HTTPS on `listen` instead of HTTP." }),
});

const admin = z.strictObject({
  listen: listen.default("127.0.0.1:9090"),
  token: z
    .string()
    .optional()
    .meta({ description: "When set (non-empty), POST endpoints require `Authorization: Bearer`." }),
});

const region = z.strictObject({
  header: z
    .string()
    .regex(HEADER_NAME_PATTERN, { error: "must be a header name" })
    .optional()
    .meta({ description: "Believed only from trustedProxies." }),
  cidrs: z.record(name, cidrList).default({}),
});

const target = z
  .string()
  .superRefine((value, ctx) => {
    const problem = targetProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  })
  .meta({ description: '"http://host:port" or "https://host:port", no path.' });

const upstream = z.strictObject({
  targets: z.array(target).min(1, { error: "must list at least one target" }),
  healthCheck: z
    .strictObject({
      path: z.string().startsWith("/", { error: 'must start with "/"' }),
      interval: timeout.prefault("5s"),
      timeout: timeout.prefault("1s"),
      unhealthyAfter: z.int().min(1).default(3),
      healthyAfter: z.int().min(1).default(2),
    })
    .optional(),
  outlierDetection: z
    .strictObject({
      consecutiveFailures: z.int().min(0).default(5).meta({
        description:
          "Connections in a row that could not be made (refused, timed out, TLS failed) before a target is ejected; 0 turns ejection off.",
      }),
      baseEjectionTime: timeout
        .prefault("10s")
        .meta({ description: "The first ejection's length; each one in a row doubles it." }),
      maxEjectionTime: timeout
        .prefault("5m")
        .meta({ description: "The longest an ejection lasts." }),
    })
    .prefault({})
    .meta({ description: "Passive ejection of targets whose connections fail." }),
  tls: z
    .strictObject({
      ca: z.string().min(1).optional().meta({ description: "PEM CA bundle file." }),
      serverName: z.string().min(1).optional().meta({ description: "SNI and the name verified." }),
    })
    .optional(),
});

const feature = z.strictObject({
  enabled: z.boolean().default(true).meta({ description: "false turns the feature off for all." }),
  when: conditions.optional(),
});

const rule = z.strictObject({
  name,
  enabled: z.boolean().default(true).meta({ description: "A disabled rule is skipped." }),
  when: conditions.optional(),
  to: name.meta({ description: "One of the route's versions." }),
});

const route = z.strictObject({
  name,
  match: conditions.optional(),
  versions: z
    .record(name, name)
    .meta({ description: "Version name → upstream name; `stable` is required." }),
  fallback: z
    .boolean()
    .default(true)
    .meta({ description: "A non-stable version that cannot be reached goes to stable." }),
  rules: z.array(rule).default([]),
});

const log = z.strictObject({
  level: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .meta({ description: "Log level; GRAYGATE_LOG_LEVEL overrides it." }),
  access: z
    .boolean()
    .default(true)
    .meta({ description: "One JSON line per request (at level info)." }),
});

export const configSchema = z
  .strictObject({
    server: server.prefault({}),
    admin: admin.prefault({}),
    log: log.prefault({}),
    region: region.optional(),
    upstreams: z.record(name, upstream),
    features: z.record(name, feature).default({}),
    routes: z.array(route),
  })
  .meta({
    title: "graygate configuration",
    description: "Routing rules for graygate, the gray-release edge proxy.",
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type Conditions = z.output<typeof conditions>;
export type HashCondition = z.output<typeof hashCondition>;
export type Route = Config["routes"][number];
export type Rule = Route["rules"][number];
export type Upstream = Config["upstreams"][string];
export type Feature = Config["features"][string];

/** The JSON Schema (draft 2020-12) of the file as written. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: "https://graygate.dev/graygate.schema.json",
    ...schema,
  };
}
