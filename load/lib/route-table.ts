/**
 * The benchmark routing table: 50 routes × 10 rules of every kind, three
 * features, spread over 5 hosts. One source for `bench:decide` (the routing
 * engine alone) and `bench` (graygate under load, and nginx given the same
 * rules), so the figures are about the same table. The constants below are
 * what both the graygate YAML and the nginx translation are written from.
 */

export const ROUTE_COUNT = 50;
export const HOST_COUNT = 5;
export const ROUTE_METHODS = ["GET", "POST", "PUT"] as const;
export const TRUSTED_PROXIES = ["10.0.0.0/8"];
export const REGION_HEADER = "x-region";
export const REGION_CIDRS: Record<string, string[]> = {
  "eu-west": ["10.1.0.0/16"],
  "us-east": ["10.2.0.0/16", "2001:db8::/32"],
};
export const PARTNER_KEYS = ["k-123", "k-456", "k-789"];
export const BETA_UA_REGEX = "^ExampleApp/9\\.";
export const OFFICE_RULE_CIDRS = ["10.50.0.0/16", "2001:db8:50::/48"];
export const LEGACY_CLIENTS = ["legacy", "old"];
export const EU_PERCENT = 10;
export const STICKY_PERCENT = 25;
export const FEATURE_HASH_PERCENT = 20;
export const OFFICE_FEATURE_CIDRS = ["10.50.0.0/16"];

/** Rule names in table order, with the version each sends to (the disabled one included). */
export const RULES: readonly { name: string; to: "stable" | "canary"; enabled: boolean }[] = [
  { name: "force", to: "canary", enabled: true },
  { name: "optout", to: "stable", enabled: true },
  { name: "partners", to: "canary", enabled: true },
  { name: "beta-ua", to: "canary", enabled: true },
  { name: "office", to: "canary", enabled: true },
  { name: "debug", to: "canary", enabled: true },
  { name: "not-legacy", to: "canary", enabled: true },
  { name: "eu", to: "canary", enabled: true },
  { name: "sampled", to: "canary", enabled: false },
  { name: "sticky", to: "canary", enabled: true },
];

export interface BenchRoute {
  name: string;
  host: string;
  /** Path prefix, with its trailing slash. */
  prefix: string;
  /** Salt of the route's sticky rule (the eu rule uses the default salt: the route's name). */
  stickySalt: string;
}

export function benchRoutes(): BenchRoute[] {
  const routes: BenchRoute[] = [];
  for (let r = 0; r < ROUTE_COUNT; r++) {
    routes.push({
      name: `svc${r}`,
      host: `api${r % HOST_COUNT}.example.com`,
      prefix: `/v1/svc${r}/`,
      stickySalt: `svc${r}-2026`,
    });
  }
  return routes;
}

/**
 * The route the proxy benchmark's requests hit: deep in the table (not the
 * first of its host, not the first by prefix) so route lookup is not the easy case.
 */
export const LOADED_ROUTE_INDEX = 37;

/** The request every load generator sends (only x-user-id changes, per request). */
export interface BenchRequest {
  host: string;
  /** Path and query, as on the request line. */
  path: string;
  /** Fixed headers besides Host and x-user-id. */
  headers: Record<string, string>;
}

export function benchRequest(): BenchRequest {
  const route = benchRoutes()[LOADED_ROUTE_INDEX] as BenchRoute;
  return {
    host: route.host,
    // A query without app_key, a path without /beta, a user agent the regex
    // rejects, no cookie, no x-canary, from 127.0.0.1 (not trusted, no region):
    // every rule is evaluated and the sticky hash on x-user-id decides.
    path: `${route.prefix}items/42?page=2`,
    headers: { "user-agent": "graygate-bench/1", accept: "application/json" },
  };
}

const yamlList = (items: readonly string[]) => `[${items.map((item) => `'${item}'`).join(", ")}]`;

export interface TableYamlOptions {
  stable: string;
  canary: string;
  /** Listeners on free loopback ports and the access log on: a config to serve. */
  serve?: boolean;
}

/** The table as a graygate config (docs/CONFIG.md). */
export function tableYaml(options: TableYamlOptions): string {
  const regions = Object.entries(REGION_CIDRS)
    .map(([name, cidrs]) => `${name}: ${yamlList(cidrs)}`)
    .join(", ");
  const lines = options.serve
    ? [
        `server: { listen: "127.0.0.1:0", trustedProxies: ${yamlList(TRUSTED_PROXIES)} }`,
        'admin: { listen: "127.0.0.1:0" }',
        "log: { level: info, access: true }",
      ]
    : [`server: { trustedProxies: ${yamlList(TRUSTED_PROXIES)} }`];
  lines.push(
    `region: { header: ${REGION_HEADER}, cidrs: { ${regions} } }`,
    "upstreams:",
    `  v1: { targets: ['${options.stable}'] }`,
    `  v2: { targets: ['${options.canary}'] }`,
    "features:",
    `  new-checkout: { when: { hash: { key: header:x-user-id, percent: ${FEATURE_HASH_PERCENT} } } }`,
    `  office: { when: { ip: ${yamlList(OFFICE_FEATURE_CIDRS)} } }`,
    "  off: { enabled: false }",
    "routes:",
  );
  for (const route of benchRoutes()) {
    lines.push(
      `  - name: ${route.name}`,
      `    match: { host: ${route.host}, path: { prefix: ${route.prefix} }, method: [${ROUTE_METHODS.join(", ")}] }`,
      "    versions: { stable: v1, canary: v2 }",
      "    rules:",
      "      - { name: force, when: { header: { x-canary: always } }, to: canary }",
      "      - { name: optout, when: { cookie: { canary: never } }, to: stable }",
      `      - { name: partners, when: { query: { app_key: [${PARTNER_KEYS.join(", ")}] } }, to: canary }`,
      `      - { name: beta-ua, when: { header: { user-agent: { regex: '${BETA_UA_REGEX}' } } }, to: canary }`,
      `      - { name: office, when: { ip: ${yamlList(OFFICE_RULE_CIDRS)} }, to: canary }`,
      "      - { name: debug, when: { header: { x-debug: { present: true } } }, to: canary }",
      `      - { name: not-legacy, when: { header: { x-client: { not: { in: [${LEGACY_CLIENTS.join(", ")}] } } }, path: { suffix: /beta } }, to: canary }`,
      `      - { name: eu, when: { region: [eu-west], hash: { key: [header:x-user-id, cookie:uid], percent: ${EU_PERCENT} } }, to: canary }`,
      "      - { name: sampled, enabled: false, when: { random: 5 }, to: canary }",
      `      - { name: sticky, when: { hash: { key: [header:x-user-id, cookie:uid], percent: ${STICKY_PERCENT}, salt: ${route.stickySalt} } }, to: canary }`,
    );
  }
  return `${lines.join("\n")}\n`;
}
