/**
 * One test per config mistake: each names FILE:LINE:COL (of the offending key
 * or value) and the path in the document, with a message that says what is
 * wrong. A few also go through `graygate validate`, as an operator runs it.
 */
import t, { type Test } from "tap";
import { BASE, doc, expectExit, linesOf, problemsOf, writeTemp } from "./helpers.ts";

const FILE = "graygate.yaml";

interface Expected {
  /** "LINE:COL" */
  at: string;
  path: string;
  says: string | RegExp;
}

interface Mistake {
  name: string;
  text: string;
  problems: Expected[];
  env?: Record<string, string>;
  /** Also check it through `graygate validate`. */
  cli?: boolean;
}

const problem = (at: string, path: string, says: string | RegExp): Expected => ({ at, path, says });

/** BASE with a `match:` at line 5; the match's `{` is at column 12. */
const withMatch = (match: string) => doc(BASE.slice(0, 4), `    match: ${match}`, BASE[4]);

/** BASE with rules from line 7, one a line, each written as `      - RULE` (RULE at column 9). */
const withRules = (...rules: string[]) =>
  doc(
    BASE,
    "    rules:",
    rules.map((rule) => `      - ${rule}`),
  );

/** BASE with upstream `a` given this one target (at 2:18). */
const withTarget = (target: string) =>
  doc("upstreams:", `  a: { targets: ["${target}"] }`, BASE.slice(2));

/** BASE with route r's versions (at 5:15) written so. */
const withVersions = (versions: string) => doc(BASE.slice(0, 4), `    versions: ${versions}`);

const mistakes: Mistake[] = [
  {
    name: "a cookie named __proto__ (it would vanish from the condition, which would always hold)",
    text: withRules("{ name: x, when: { cookie: { __proto__: x } }, to: canary }"),
    problems: [
      problem(
        "7:38",
        "routes[0].rules[0].when.cookie.__proto__",
        '"__proto__" cannot be used as a key',
      ),
      problem("7:60", "routes[0].rules[0].to", /canary/),
    ],
  },
  {
    name: "__proto__ as a key where no key is known",
    text: doc("server: { __proto__: { listen: x } }", BASE),
    problems: [problem("1:11", "server.__proto__", 'unknown key "__proto__"')],
  },
  {
    name: "a percent above 100",
    text: withRules("{ name: x, when: { random: 101 }, to: stable }"),
    problems: [problem("7:36", "routes[0].rules[0].when.random", "must be from 0 to 100")],
  },
  {
    name: "a negative percent",
    text: withRules("{ name: x, when: { hash: { key: ip, percent: -1 } }, to: stable }"),
    problems: [problem("7:54", "routes[0].rules[0].when.hash.percent", "must be from 0 to 100")],
  },
  {
    name: "a percent with three decimals",
    text: withRules("{ name: x, when: { hash: { key: ip, percent: 1.234 } }, to: stable }"),
    problems: [problem("7:54", "routes[0].rules[0].when.hash.percent", "at most two decimals")],
  },
  {
    name: "an unknown top-level key, with a suggestion",
    text: doc("servr: {}", BASE),
    problems: [problem("1:1", "servr", 'unknown key "servr" (did you mean "server"?)')],
    cli: true,
  },
  {
    name: "an unknown key in a rule's when, with a suggestion",
    text: withRules("{ name: x, when: { hedaer: { x-a: b } }, to: stable }"),
    problems: [
      problem(
        "7:28",
        "routes[0].rules[0].when.hedaer",
        'unknown key "hedaer" (did you mean "header"?)',
      ),
    ],
  },
  {
    name: "an unknown key unlike any, listing the known ones",
    text: doc("server: { zzz: 1 }", BASE),
    problems: [problem("1:11", "server.zzz", /unknown key "zzz" \(expected one of: listen, .*\)/)],
  },
  {
    name: "a misspelt required key: unknown, and the real one missing",
    text: doc(BASE.slice(0, 4), "    versoins: { stable: a }"),
    problems: [
      problem("4:5", "routes[0].versions", "is required"),
      problem("5:5", "routes[0].versoins", 'did you mean "versions"?'),
    ],
  },
  {
    name: "an unknown upstream in versions",
    text: withVersions("{ stable: a, canary: b }"),
    problems: [problem("5:36", "routes[0].versions.canary", 'unknown upstream "b" (defined: a)')],
  },
  {
    name: "a rule `to` a version the route does not have",
    text: withRules("{ name: x, to: canary }"),
    problems: [problem("7:24", "routes[0].rules[0].to", 'unknown version "canary"')],
  },
  {
    name: "a bad regex",
    text: withMatch('{ path: { regex: "^/(a" } }'),
    problems: [
      problem("5:29", "routes[0].match.path.regex", /is not a valid regular expression: .*group/),
    ],
    cli: true,
  },
  {
    name: "a duplicate top-level key, after a block mapping",
    text: doc("server:", "  drain: 5s", "server:", "  drain: 6s", BASE),
    problems: [problem("3:1", "server", 'duplicate key "server"')],
  },
  {
    name: "a duplicate key inside a mapping",
    text: doc(
      "upstreams:",
      '  a: { targets: ["http://10.0.0.1:8080"] }',
      '  a: { targets: ["http://10.0.0.2:8080"] }',
      BASE.slice(2),
    ),
    problems: [problem("3:3", "upstreams.a", 'duplicate key "a"')],
    cli: true,
  },
  {
    name: "a bad CIDR in trustedProxies",
    text: doc("server:", "  trustedProxies: [10.0.0.0/8, 10.0.0.0/33]", BASE),
    problems: [problem("2:32", "server.trustedProxies[1]", "must be an IP address or CIDR")],
  },
  {
    name: "a bad CIDR in region cidrs",
    text: doc("region:", "  cidrs:", '    eu-west: [10.1.0.0/16, "300.1.0.0/16"]', BASE),
    problems: [problem("3:28", "region.cidrs.eu-west[1]", "must be an IP address or CIDR")],
  },
  {
    name: "a bad CIDR in an ip: condition",
    text: withMatch("{ ip: [10.0.0.0/8, not-an-ip] }"),
    problems: [problem("5:31", "routes[0].match.ip[1]", "must be an IP address or CIDR")],
  },
  {
    name: "an unset environment variable",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${NOPE} is config text
    text: doc('admin: { token: "${NOPE}" }', BASE),
    problems: [problem("1:17", "admin.token", "environment variable NOPE is not set")],
    cli: true,
  },
  {
    name: "a target with a path",
    text: withTarget("http://10.0.0.1:8080/api"),
    problems: [problem("2:18", "upstreams.a.targets[0]", 'must not have a path (got "/api")')],
  },
  {
    name: "a target with a query",
    text: withTarget("http://10.0.0.1:8080/?x=1"),
    problems: [problem("2:18", "upstreams.a.targets[0]", "must not have a query")],
  },
  {
    name: "a target that is not http or https",
    text: withTarget("ftp://10.0.0.1:21"),
    problems: [problem("2:18", "upstreams.a.targets[0]", "must use http or https, not ftp")],
  },
  {
    name: "a target that is no URL",
    text: withTarget("10.0.0.1:8080"),
    problems: [problem("2:18", "upstreams.a.targets[0]", "must be a URL")],
  },
  {
    name: "a duplicate route name",
    text: doc(BASE, "  - name: r", "    versions: { stable: a }"),
    problems: [problem("6:11", "routes[1].name", 'duplicate route name "r" (also routes[0])')],
  },
  {
    name: "a duplicate rule name",
    text: withRules("{ name: x, to: stable }", "{ name: x, to: stable }"),
    problems: [problem("8:17", "routes[0].rules[1].name", 'duplicate rule name "x"')],
  },
  {
    name: "the reserved rule name default",
    text: withRules("{ name: default, to: stable }"),
    problems: [problem("7:17", "routes[0].rules[0].name", '"default" is reserved')],
  },
  {
    name: "the reserved route name none",
    text: doc(BASE.slice(0, 3), "  - name: none", BASE[4]),
    problems: [problem("4:11", "routes[0].name", '"none" is reserved')],
  },
  {
    name: "a route without a stable version",
    text: withVersions("{ canary: a }"),
    problems: [problem("5:15", "routes[0].versions", "must name a stable version")],
  },
  {
    name: "not YAML: an unclosed flow map",
    text: withVersions("{ stable: a"),
    problems: [problem("5:15", "routes[0].versions", /not valid YAML: Flow map .*\}/)],
    cli: true,
  },
  {
    name: "not YAML: bad indentation",
    text: doc("server:", '  listen: ":8080"', "    workers: 2", BASE),
    problems: [problem("3:5", "server.workers", "not valid YAML: All mapping items must start")],
  },
  {
    name: "not YAML: a tab as indentation",
    text: doc("upstreams:", '\ta: { targets: ["http://10.0.0.1:8080"] }', BASE.slice(2)),
    problems: [problem("2:1", "(root)", "not valid YAML: Tabs are not allowed")],
  },
  {
    name: "a file that is a plain scalar",
    text: doc("just some words"),
    problems: [problem("1:1", "(root)", "must be a mapping with upstreams and routes")],
  },
  {
    name: "a file that is a list",
    text: doc("# a comment first", "- a", "- b"),
    problems: [problem("2:1", "(root)", "must be a mapping with upstreams and routes")],
  },
  {
    name: "an empty file",
    text: "",
    problems: [problem("1:1", "(root)", "the file is empty")],
    cli: true,
  },
  {
    name: "a file of comments only",
    text: doc("# nothing here", "# yet"),
    problems: [problem("1:1", "(root)", "the file is empty")],
  },
  {
    name: "a bad duration",
    text: doc(
      "server:",
      "  timeouts:",
      "    headers: 10 seconds",
      "    request: 10",
      "  drain: 5x",
      BASE,
    ),
    problems: [
      problem("3:14", "server.timeouts.headers", 'must be a duration such as "250ms"'),
      problem("4:14", "server.timeouts.request", "must be a duration string"),
      problem("5:10", "server.drain", "must be a duration"),
    ],
  },
  {
    name: "a timeout of 0 (Node would never time out)",
    text: doc("server: { timeouts: { keepAlive: 0s } }", BASE),
    problems: [problem("1:34", "server.timeouts.keepAlive", "must be longer than 0")],
  },
  {
    name: "a version header that names a reserved header",
    text: doc("server: { versionHeader: Content-Length }", BASE),
    problems: [problem("1:26", "server.versionHeader", "already gives a meaning to")],
  },
  {
    name: "a headers timeout longer than the request timeout",
    text: doc("server: { timeouts: { headers: 2m, request: 30s } }", BASE),
    problems: [
      problem("1:32", "server.timeouts.headers", "must not be longer than timeouts.request"),
    ],
  },
  {
    name: "a bad listen address",
    text: doc('server: { listen: "8080" }', 'admin: { listen: "localhost:99999" }', BASE),
    problems: [
      problem("1:19", "server.listen", 'must be "host:port" or ":port"'),
      problem("2:18", "admin.listen", "with a port from 0 to 65535"),
    ],
  },
  {
    name: "a bare IPv6 listen address",
    text: doc('server: { listen: "::1:8080" }', BASE),
    problems: [problem("1:19", "server.listen", 'must be "host:port" or ":port"')],
  },
  {
    name: "a matcher {in} that is not a list",
    text: withMatch('{ path: { in: "x" } }'),
    problems: [problem("5:26", "routes[0].match.path.in", 'must be a list (got the string "x")')],
  },
  {
    name: "a misspelt matcher {regx}",
    text: withMatch('{ path: { regx: "^/a" } }'),
    problems: [problem("5:22", "routes[0].match.path.regx", 'did you mean "regex"?')],
  },
  {
    name: "a misspelt matcher under not",
    text: withMatch("{ path: { not: { prefx: /a } } }"),
    problems: [problem("5:29", "routes[0].match.path.not.prefx", 'did you mean "prefix"?')],
  },
  {
    name: "a matcher with two forms at once",
    text: withMatch("{ path: { prefix: /a, suffix: /b } }"),
    problems: [problem("5:20", "routes[0].match.path", "must be a string, a list of strings")],
  },
  {
    name: "a number where a string matcher is required",
    text: withMatch("{ header: { x-n: 2 }, path: [/a, 3] }"),
    problems: [
      problem("5:29", "routes[0].match.header.x-n", "must be a string"),
      problem(
        "5:45",
        "routes[0].match.path[1]",
        'must be a string (quote numbers and booleans, e.g. "2")',
      ),
    ],
  },
  {
    name: "region used without a region: section",
    text: withMatch("{ region: eu-west }"),
    problems: [problem("5:22", "routes[0].match.region", "no region: section")],
  },
  {
    name: "proxy and admin on the same port, admin by default",
    text: doc('server: { listen: ":9090" }', BASE),
    problems: [problem("1:19", "server.listen", "cannot share port 9090")],
  },
  {
    name: "proxy and admin on the same port, both written",
    text: doc('server: { listen: "0.0.0.0:8080" }', 'admin: { listen: "127.0.0.1:8080" }', BASE),
    problems: [problem("2:18", "admin.listen", "cannot share port 8080")],
  },
  {
    // [::] takes IPv4 too (dual stack): binding 127.0.0.1:9090 next to it fails with EADDRINUSE.
    name: "proxy on [::] and admin on the same port",
    text: doc('server: { listen: "[::]:9090" }', BASE),
    problems: [problem("1:19", "server.listen", "cannot share port 9090")],
  },
  {
    name: "routes missing",
    text: doc(BASE.slice(0, 2)),
    problems: [problem("1:1", "routes", "is required")],
  },
  {
    name: "upstreams missing",
    text: doc(BASE.slice(2)),
    problems: [
      problem("1:1", "upstreams", "is required"),
      problem("3:25", "routes[0].versions.stable", 'unknown upstream "a" (defined: none)'),
    ],
  },
  {
    name: "versions missing",
    text: doc(BASE.slice(0, 4)),
    problems: [problem("4:5", "routes[0].versions", "is required")],
  },
  {
    name: "several mistakes, all reported at once, sorted by line",
    text: doc(
      "upstreams:",
      '  a: { targets: ["ftp://10.0.0.1"] }',
      "routes:",
      "  - name: r",
      "    versions: { stable: b }",
      "    rules:",
      "      - { name: default, to: beta }",
      "      - { name: y, when: { random: 200 }, to: stable }",
      "servr: 1",
    ),
    problems: [
      problem("2:18", "upstreams.a.targets[0]", "must use http or https"),
      problem("5:25", "routes[0].versions.stable", 'unknown upstream "b"'),
      problem("7:17", "routes[0].rules[0].name", '"default" is reserved'),
      problem("7:30", "routes[0].rules[0].to", 'unknown version "beta"'),
      problem("8:36", "routes[0].rules[1].when.random", "must be from 0 to 100"),
      problem("9:1", "servr", 'did you mean "server"?'),
    ],
    cli: true,
  },
];

/** `lines` are exactly the expected problems of `file`, in order. */
function checkProblems(t: Test, lines: readonly string[], file: string, expected: Expected[]) {
  const prefixes = expected.map((e) => `${file}:${e.at}: ${e.path}: `);
  t.strictSame(
    lines.map((line, i) => line.slice(0, prefixes[i]?.length)),
    prefixes,
    "FILE:LINE:COL: PATH: of every problem",
  );
  lines.forEach((line, i) => {
    const says = expected[i]?.says ?? "";
    t.match(line.slice(prefixes[i]?.length), says, `message of ${prefixes[i] ?? line}`);
  });
}

for (const mistake of mistakes) {
  t.test(mistake.name, async (t) => {
    checkProblems(t, problemsOf(mistake.text, FILE, mistake.env), FILE, mistake.problems);
  });
}

t.test("through graygate validate: located lines on stderr, exit 1", async (t) => {
  for (const mistake of mistakes.filter((m) => m.cli === true)) {
    t.test(mistake.name, async (t) => {
      const file = writeTemp(t, "graygate.yaml", mistake.text);
      const run = await expectExit(t, ["validate", file], 1, mistake.env);
      t.equal(run.stdout, "", "nothing on stdout");
      checkProblems(t, linesOf(run.stderr), file, mistake.problems);
    });
  }
});

t.test("problems come sorted by line, then column", async (t) => {
  for (const mistake of mistakes) {
    const places = problemsOf(mistake.text, FILE, mistake.env).map((line) =>
      line
        .slice(FILE.length + 1)
        .split(":", 2)
        .map(Number),
    );
    const sorted = [...places].sort(([a = 0, b = 0], [c = 0, d = 0]) => a - c || b - d);
    t.strictSame(places, sorted, mistake.name);
  }
});
