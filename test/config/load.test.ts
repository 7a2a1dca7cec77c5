// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are config text, where ${VAR} is the syntax under test
/** Good configs: defaults, ${VAR} interpolation, the file hash, reading files. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import t, { type Test } from "tap";
import { type LoadedConfig, loadConfigFile, loadConfigText } from "../../src/config/load.ts";
import { formatProblem } from "../../src/config/problems.ts";
import { BASE, doc, SHIPPED_CONFIG, tempDir, writeTemp } from "./helpers.ts";

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Loads text that must be valid; fails the test with its problems if it is not. */
function load(t: Test, text: string, env: Record<string, string> = {}): LoadedConfig {
  const result = loadConfigText(text, "graygate.yaml", env);
  if (!result.ok) {
    t.fail(`expected a valid config:\n${result.problems.map(formatProblem).join("\n")}`);
    throw new Error("invalid config");
  }
  return result.loaded;
}

/** A config whose admin token is written as `token` (quoted), with the env given. */
const token = (t: Test, written: string, env: Record<string, string> = {}) =>
  load(t, doc(`admin: { token: "${written}" }`, BASE), env).config.admin.token;

t.test("a good config loads, with every default applied", async (t) => {
  const { config } = load(
    t,
    doc(BASE, "    rules:", "      - { name: x, when: { random: 5 }, to: stable }"),
  );
  t.strictSame(config.server, {
    listen: "0.0.0.0:8080",
    workers: 1,
    trustedProxies: [],
    maxHeaderBytes: 16384,
    maxHeaderCount: 100,
    timeouts: {
      headers: 10000,
      request: 60000,
      keepAlive: 5000,
      upstreamConnect: 2000,
      upstreamResponse: 30000,
    },
    drain: 20000,
    versionHeader: "x-graygate-version",
  });
  t.strictSame(config.admin, { listen: "127.0.0.1:9090" });
  t.equal(config.region, undefined, "no region unless written");
  t.strictSame(config.features, {});
  t.strictSame(config.upstreams, {
    a: {
      targets: ["http://10.0.0.1:8080"],
      outlierDetection: {
        consecutiveFailures: 5,
        baseEjectionTime: 10000,
        maxEjectionTime: 300000,
      },
    },
  });
  const [route] = config.routes;
  t.equal(route?.fallback, true, "fallback defaults to true");
  t.strictSame(route?.rules, [{ name: "x", enabled: true, when: { random: 5 }, to: "stable" }]);
});

t.test("durations are milliseconds", async (t) => {
  const { config } = load(
    t,
    doc(
      "server:",
      "  timeouts: { headers: 250ms, request: 1m30s, keepAlive: 1.5s, upstreamConnect: 1h, upstreamResponse: 7d }",
      "  drain: 5m",
      BASE,
    ),
  );
  t.strictSame(config.server.timeouts, {
    headers: 250,
    request: 90_000,
    keepAlive: 1500,
    upstreamConnect: 3_600_000,
    upstreamResponse: 604_800_000,
  });
  t.equal(config.server.drain, 300_000);
});

t.test("health check defaults", async (t) => {
  const { config } = load(
    t,
    doc(
      "upstreams:",
      '  a: { targets: ["http://10.0.0.1:8080"], healthCheck: { path: /healthz } }',
      BASE.slice(2),
    ),
  );
  t.strictSame(config.upstreams.a?.healthCheck, {
    path: "/healthz",
    interval: 5000,
    timeout: 1000,
    unhealthyAfter: 3,
    healthyAfter: 2,
  });
});

t.test("other written forms: workers auto, versionHeader off", async (t) => {
  const { config } = load(t, doc('server: { workers: auto, versionHeader: "" }', BASE));
  t.equal(config.server.workers, "auto");
  t.equal(config.server.versionHeader, "");
});

t.test("targets in every valid form load", async (t) => {
  for (const target of [
    "http://10.0.0.1:8080",
    "http://10.0.0.1:8080/",
    "https://orders.internal:8443",
    "http://[2001:db8::1]:8080",
    // Spelled with the scheme's own port: still `http(s)://host:port` with no path.
    "http://orders.internal:80",
    "https://orders.internal:443",
  ]) {
    const result = loadConfigText(
      doc("upstreams:", `  a: { targets: ["${target}"] }`, BASE.slice(2)),
      "graygate.yaml",
      {},
    );
    t.strictSame(result.ok ? [] : result.problems.map(formatProblem), [], target);
  }
});

t.test("the document as written is kept, before defaults", async (t) => {
  const loaded = load(t, doc('admin: { token: "${TOKEN}" }', BASE), { TOKEN: "s3cret" });
  t.strictSame(loaded.written, {
    admin: { token: "s3cret" },
    upstreams: { a: { targets: ["http://10.0.0.1:8080"] } },
    routes: [{ name: "r", versions: { stable: "a" } }],
  });
});

t.test("${VAR} is replaced from the environment", async (t) => {
  t.equal(token(t, "${TOKEN}", { TOKEN: "s3cret" }), "s3cret");
  t.equal(token(t, "Bearer-${A}-${B}", { A: "x", B: "y" }), "Bearer-x-y", "several in one string");
  t.equal(token(t, "${EMPTY}", { EMPTY: "" }), "", "set but empty is set");
  t.equal(token(t, "${T}", { T: "${OTHER}" }), "${OTHER}", "a value is not expanded again");
  const plain = load(t, doc("admin:", "  token: ${TOKEN}", BASE), { TOKEN: "unquoted" });
  t.equal(plain.config.admin.token, "unquoted", "in a plain (unquoted) scalar too");
});

t.test("${VAR:-default}", async (t) => {
  t.equal(token(t, "${TOKEN:-fallback}"), "fallback", "unset: the default");
  t.equal(token(t, "${TOKEN:-fallback}", { TOKEN: "set" }), "set", "set: the value");
  t.equal(token(t, "${TOKEN:-fallback}", { TOKEN: "" }), "fallback", "set but empty: the default");
  t.equal(token(t, "${TOKEN:-}"), "", "an empty default");
  t.equal(token(t, "${TOKEN:-a:b}"), "a:b", "a default with a colon");
  const { config } = load(
    t,
    doc("upstreams:", '  a: { targets: ["http://${HOST:-10.0.0.9}:8080"] }', BASE.slice(2)),
  );
  t.strictSame(config.upstreams.a?.targets, ["http://10.0.0.9:8080"], "inside a longer value");
});

t.test("$${ writes a literal ${", async (t) => {
  t.equal(token(t, "$${TOKEN}", { TOKEN: "s3cret" }), "${TOKEN}");
  t.equal(token(t, "$${NOPE}"), "${NOPE}", "not an error when unset");
  t.equal(token(t, "a$${b}-${C}", { C: "c" }), "a${b}-c", "next to a real reference");
});

t.test("keys are not interpolated", async (t) => {
  const { config } = load(t, doc(BASE, "    match: { header: { x-a: { present: true } } }"), {
    "x-a": "renamed",
  });
  t.strictSame(config.routes[0]?.match, { header: { "x-a": { present: true } } });
});

t.test("the hash is the sha256 of the text", async (t) => {
  const text = doc("# a comment", 'admin: { token: "${TOKEN:-}" }', BASE);
  const first = load(t, text);
  t.match(first.hash, /^[0-9a-f]{64}$/, "64 hex digits");
  t.equal(first.hash, sha256(text));
  t.equal(load(t, text).hash, first.hash, "stable: the same text, the same hash");
  t.equal(load(t, text, { TOKEN: "x" }).hash, first.hash, "of the text, not of the environment");
  t.not(load(t, text.replace("a comment", "a Comment")).hash, first.hash, "a comment counts");
  t.not(load(t, text.replace("10.0.0.1", "10.0.0.2")).hash, first.hash, "a value counts");
});

t.test("loadConfigFile: the hash is the sha256 of the bytes on disk", async (t) => {
  const cases: [string, Uint8Array][] = [
    ["UTF-8", Buffer.from(doc("# Zürich, 東京", BASE), "utf8")],
    ["a Latin-1 byte in a comment", Buffer.from(doc("# Z\u00fcrich", BASE), "latin1")],
  ];
  for (const [name, bytes] of cases) {
    const result = await loadConfigFile(writeTemp(t, "graygate.yaml", bytes), {});
    // Either refused as not UTF-8, or hashed as the bytes that `sha256sum` sees.
    if (result.ok) t.equal(result.loaded.hash, sha256(bytes), name);
    else t.pass(`${name}: refused`);
  }
});

t.test("the shipped config/graygate.yaml validates with an empty environment", async (t) => {
  const result = await loadConfigFile(SHIPPED_CONFIG, {});
  t.strictSame(result.ok ? [] : result.problems.map(formatProblem), [], "no problems");
  if (!result.ok) return;
  t.equal(result.loaded.file, SHIPPED_CONFIG);
  t.equal(result.loaded.hash, sha256(readFileSync(SHIPPED_CONFIG)));
  t.equal(result.loaded.config.admin.token, "", "GRAYGATE_ADMIN_TOKEN:- gives an empty token");
  t.strictSame(
    result.loaded.config.routes.map((route) => route.name),
    ["orders", "accounts", "everything-else"],
  );
});

t.test("a file that cannot be read is one problem at 1:1", async (t) => {
  const dir = tempDir(t);
  for (const [file, code] of [
    [`${dir}/missing.yaml`, "ENOENT"],
    [dir, "EISDIR"],
  ] as const) {
    const result = await loadConfigFile(file, {});
    t.strictSame(
      result.ok ? [] : result.problems.map(formatProblem),
      [`${file}:1:1: (file): cannot read the file (${code})`],
      code,
    );
  }
});
