/**
 * nginx in two roles, each a child of the benchmark with its own prefix dir,
 * pid file, error log and temp paths (so it needs no root and no /var/lib):
 * - the upstream: `return 200` on two ports (stable, canary), each naming
 *   itself in `x-upstream`, so a routing check sees where requests went;
 * - the proxy with the same rules as graygate's benchmark table, written from
 *   the same constants (route-table.ts). What nginx cannot do the same way is
 *   said in comments here and in load/RESULTS.md.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Child, Workspace } from "./processes.ts";
import { sleep } from "./processes.ts";
import {
  BETA_UA_REGEX,
  benchRoutes,
  EU_PERCENT,
  FEATURE_HASH_PERCENT,
  LEGACY_CLIENTS,
  OFFICE_FEATURE_CIDRS,
  OFFICE_RULE_CIDRS,
  PARTNER_KEYS,
  REGION_CIDRS,
  REGION_HEADER,
  ROUTE_METHODS,
  RULES,
  STICKY_PERCENT,
  TRUSTED_PROXIES,
} from "./route-table.ts";

/** A free loopback port (nginx cannot listen on port 0 and say which port it got). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Lines common to both roles: one worker, in the foreground, everything under `prefix`. */
function mainContext(prefix: string, fdLimit: number): string[] {
  return [
    "worker_processes 1;",
    "daemon off;",
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/error.log error;`,
    `worker_rlimit_nofile ${fdLimit};`,
    `events { worker_connections ${Math.min(16384, Math.max(1024, fdLimit - 64))}; }`,
  ];
}

function tempPaths(prefix: string): string[] {
  return ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
    (kind) => `  ${kind}_temp_path ${prefix}/${kind};`,
  );
}

const CLIENT_KEEPALIVE = [
  // A benchmark connection is never closed by nginx (its default is 1,000
  // requests per connection, which would make clients reconnect mid-run).
  "  keepalive_requests 1000000;",
  "  keepalive_timeout 60s;",
];

export function upstreamConf(
  prefix: string,
  fdLimit: number,
  ports: Record<string, number>,
): string {
  const lines = [...mainContext(prefix, fdLimit), "http {", ...tempPaths(prefix)];
  lines.push("  access_log off;", ...CLIENT_KEEPALIVE, "  server_tokens off;");
  for (const [name, port] of Object.entries(ports)) {
    lines.push(
      `  server {`,
      `    listen 127.0.0.1:${port};`,
      `    location / { add_header x-upstream ${name}; return 200 "ok\\n"; }`,
      `  }`,
    );
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

const q = (text: string) => `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/**
 * The proxy role. A request's decision is a chain of `map`s, one per rule,
 * each falling through to the next rule's variable: maps are evaluated
 * lazily, so, as in graygate, the first rule that holds decides and the rest
 * are not evaluated. The chain yields the rule's name; one more map turns it
 * into the version. Sticky hashes are `split_clients` (MurmurHash2, not
 * graygate's murmur3: the same shares, not the same users).
 */
export function proxyConf(
  prefix: string,
  fdLimit: number,
  listenPort: number,
  upstreams: { stable: string; canary: string },
): string {
  const routes = benchRoutes();
  const http: string[] = [...tempPaths(prefix), ...CLIENT_KEEPALIVE, "  server_tokens off;"];
  // Some 300 map and split_clients variables: more than the default hash holds.
  http.push("  variables_hash_max_size 4096;", "  variables_hash_bucket_size 128;");
  http.push(
    // The access log: one JSON line per request with the fields graygate's has.
    // Buffered, as graygate's (pino through sonic-boom, asynchronous) is batched.
    "  log_format graygate escape=json",
    `    '{"time":"$time_iso8601","msg":"request","method":"$request_method","path":"$uri",'`,
    `    '"status":$status,"route":"$gg_route_label","version":"$gg_version_label","rule":"$gg_rule_label",'`,
    `    '"target":"$upstream_addr","duration":$request_time,"bytes":$body_bytes_sent,'`,
    `    '"requestId":"$gg_request_id","client":"$remote_addr"}';`,
    `  access_log ${prefix}/access.log graygate buffer=64k flush=1s;`,
    "",
    "  # trustedProxies: X-Forwarded-For is believed only from them (the client address).",
    ...TRUSTED_PROXIES.map((cidr) => `  set_real_ip_from ${cidr};`),
    "  real_ip_header X-Forwarded-For;",
    "  real_ip_recursive on;",
    "  geo $realip_remote_addr $gg_trusted_peer {",
    "    default 0;",
    ...TRUSTED_PROXIES.map((cidr) => `    ${cidr} 1;`),
    "  }",
    "  # region: the header, from a trusted peer only; else the client address's CIDRs.",
    "  geo $gg_region_by_cidr {",
    '    default "";',
    ...Object.entries(REGION_CIDRS).flatMap(([region, cidrs]) =>
      cidrs.map((cidr) => `    ${cidr} ${region};`),
    ),
    "  }",
    `  map "$gg_trusted_peer:$http_${REGION_HEADER.replaceAll("-", "_")}" $gg_region {`,
    '    "~^1:(?<gg_header_region>.+)$" $gg_header_region;',
    "    default $gg_region_by_cidr;",
    "  }",
    "  # Hash key [header:x-user-id, cookie:uid]: the first present and non-empty.",
    "  map $http_x_user_id $gg_uid {",
    '    "" $cookie_uid;',
    "    default $http_x_user_id;",
    "  }",
    "  map $gg_uid $gg_has_uid {",
    '    "" 0;',
    "    default 1;",
    "  }",
    "  geo $gg_ip_office_rule {",
    "    default 0;",
    ...OFFICE_RULE_CIDRS.map((cidr) => `    ${cidr} 1;`),
    "  }",
    "  map $http_x_client $gg_client_not_legacy {",
    ...LEGACY_CLIENTS.map((client) => `    ${q(client)} 0;`),
    "    default 1;",
    "  }",
    "  map $request_method $gg_method_ok {",
    ...ROUTE_METHODS.map((method) => `    ${method} 1;`),
    "    default 0;",
    "  }",
    "  map $http_x_request_id $gg_request_id {",
    '    "" $request_id;',
    "    default $http_x_request_id;",
    "  }",
    "",
    "  # Features (x-graygate-features): a feature's hash is salted with its name.",
    `  split_clients "new-checkout:$http_x_user_id" $gg_new_checkout_bucket {`,
    `    ${FEATURE_HASH_PERCENT}% new-checkout;`,
    '    * "";',
    "  }",
    "  map $http_x_user_id $gg_feature_new_checkout {",
    '    "" "";',
    "    default $gg_new_checkout_bucket;",
    "  }",
    "  geo $gg_feature_office {",
    '    default "";',
    ...OFFICE_FEATURE_CIDRS.map((cidr) => `    ${cidr} office;`),
    "  }",
    '  map "$gg_feature_new_checkout,$gg_feature_office" $gg_features {',
    '    "new-checkout,office" "new-checkout,office";',
    '    "new-checkout," "new-checkout";',
    '    ",office" "office";',
    '    default "";',
    "  }",
    "",
  );
  for (const route of routes) http.push(...routeChain(route.name, route.stickySalt));
  http.push(
    "  # The route's chain, chosen by the location that matched ($gg_route).",
    "  map $gg_route $gg_rule {",
    '    default "";',
    ...routes.map((route) => `    ${route.name} $gg_rule_${route.name}_0;`),
    "  }",
    "  map $gg_route $gg_version {",
    '    default "";',
    ...routes.map((route) => `    ${route.name} $gg_version_${route.name};`),
    "  }",
    "",
    "  # As graygate labels a request that matched no route.",
    '  map $gg_route $gg_route_label { "" none; default $gg_route; }',
    '  map $gg_version $gg_version_label { "" none; default $gg_version; }',
    '  map $gg_rule $gg_rule_label { "" default; default $gg_rule; }',
    "",
    "  upstream gg_stable {",
    `    server ${upstreams.stable};`,
    "    keepalive 256;",
    "    keepalive_requests 1000000;",
    "    keepalive_timeout 60s;",
    "  }",
    "  upstream gg_canary {",
    `    server ${upstreams.canary};`,
    "    keepalive 256;",
    "    keepalive_requests 1000000;",
    "    keepalive_timeout 60s;",
    "  }",
    "",
    "  proxy_http_version 1.1;",
    '  proxy_set_header Connection "";',
    '  proxy_set_header Keep-Alive "";',
    '  proxy_set_header Proxy-Connection "";',
    '  proxy_set_header TE "";',
    '  proxy_set_header Trailer "";',
    '  proxy_set_header Upgrade "";',
    "  proxy_set_header Host $http_host;",
    "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "  proxy_set_header X-Forwarded-Proto $scheme;",
    "  proxy_set_header X-Forwarded-Host $host;",
    "  proxy_set_header x-graygate-version $gg_version;",
    "  proxy_set_header x-graygate-rule $gg_rule;",
    "  proxy_set_header x-graygate-features $gg_features;",
    "  proxy_set_header x-request-id $gg_request_id;",
    "  proxy_buffering on;",
    "  add_header x-graygate-version $gg_version always;",
    "",
    "  server {",
    `    listen 127.0.0.1:${listenPort} default_server;`,
    '    set $gg_route "";',
    ...noRoute("    "),
    "  }",
  );
  const hosts = [...new Set(routes.map((route) => route.host))];
  for (const host of hosts) {
    http.push("  server {", `    listen 127.0.0.1:${listenPort};`, `    server_name ${host};`);
    http.push('    set $gg_route "";');
    for (const route of routes.filter((candidate) => candidate.host === host)) {
      http.push(
        `    location ${route.prefix} {`,
        // A method the route does not take matches no route (no other route has this prefix).
        "      if ($gg_method_ok = 0) { return 404; }",
        `      set $gg_route ${route.name};`,
        "      proxy_pass http://gg_$gg_version;",
        "    }",
      );
    }
    http.push(...noRoute("    "), "  }");
  }
  return `${[...mainContext(prefix, fdLimit), "http {", ...http, "}"].join("\n")}\n`;
}

function noRoute(indent: string): string[] {
  return [
    `${indent}location / {`,
    `${indent}  default_type application/json;`,
    `${indent}  return 404 '{"error":"no_route","message":"no route matches"}';`,
    `${indent}}`,
  ];
}

/**
 * One route's rules as a chain of maps, in table order. Each yields the
 * rule's name when its condition holds, else the next rule's variable.
 */
function routeChain(route: string, stickySalt: string): string[] {
  const v = (index: number) => `$gg_rule_${route}_${index}`;
  const last = "default";
  const enabled = RULES.filter((rule) => rule.enabled).map((rule) => rule.name);
  const next = (name: string) => {
    const at = enabled.indexOf(name);
    return at + 1 < enabled.length ? v(at + 1) : last;
  };
  const own = (name: string) => v(enabled.indexOf(name));
  const lines = [
    `  # route ${route}`,
    `  split_clients "${route}:$gg_uid" $gg_eu_${route} {`,
    `    ${EU_PERCENT}% 1;`,
    '    * "";',
    "  }",
    `  split_clients "${stickySalt}:$gg_uid" $gg_sticky_${route} {`,
    `    ${STICKY_PERCENT}% 1;`,
    '    * "";',
    "  }",
    `  map $http_x_canary ${own("force")} { always force; default ${next("force")}; }`,
    `  map $cookie_canary ${own("optout")} { never optout; default ${next("optout")}; }`,
    `  map $arg_app_key ${own("partners")} {`,
    ...PARTNER_KEYS.map((key) => `    ${q(key)} partners;`),
    `    default ${next("partners")};`,
    "  }",
    `  map $http_user_agent ${own("beta-ua")} { ${q(`~${BETA_UA_REGEX}`)} beta-ua; default ${next("beta-ua")}; }`,
    `  map $gg_ip_office_rule ${own("office")} { 1 office; default ${next("office")}; }`,
    // nginx cannot tell an empty header from an absent one: `present: true` is "non-empty" here.
    `  map $http_x_debug ${own("debug")} { "" ${next("debug")}; default debug; }`,
    `  map "$gg_client_not_legacy:$uri" ${own("not-legacy")} { "~^1:.*/beta$" not-legacy; default ${next("not-legacy")}; }`,
    `  map "$gg_region:$gg_has_uid$gg_eu_${route}" ${own("eu")} { "eu-west:11" eu; default ${next("eu")}; }`,
    "  # sampled: disabled (enabled: false), so not in the chain.",
    `  map "$gg_has_uid$gg_sticky_${route}" ${own("sticky")} { 11 sticky; default ${next("sticky")}; }`,
    `  map ${v(0)} $gg_version_${route} {`,
    ...RULES.filter((rule) => rule.enabled).map((rule) => `    ${rule.name} ${rule.to};`),
    "    default stable;",
    "  }",
  ];
  return lines;
}

export interface RunningNginx {
  child: Child;
  prefix: string;
}

/** Writes the conf, starts nginx in its own prefix and waits until it answers on `port`. */
export async function startNginx(
  workspace: Workspace,
  options: {
    name: string;
    nginx: string;
    prefix: string;
    conf: string;
    port: number;
    role: "proxy" | "load";
  },
): Promise<RunningNginx> {
  const { prefix } = options;
  mkdirSync(prefix, { recursive: true });
  // Started as root, nginx runs its worker as nobody: let it reach the prefix
  // (the temp paths it creates there are chowned to it).
  chmodSync(workspace.dir, 0o711);
  chmodSync(prefix, 0o755);
  const confFile = join(prefix, "nginx.conf");
  writeFileSync(confFile, options.conf);
  const child = workspace.launch({
    name: options.name,
    command: options.nginx,
    args: ["-p", prefix, "-e", join(prefix, "error.log"), "-c", confFile],
    role: options.role,
    stdoutFile: join(prefix, "stdout.log"),
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) break;
    try {
      await fetch(`http://127.0.0.1:${options.port}/`, { signal: AbortSignal.timeout(500) });
      return { child, prefix };
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`${options.name} did not start: see ${prefix}/error.log`);
}
