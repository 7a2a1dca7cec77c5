// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is config syntax here
/**
 * What a client may claim: forwarding and region headers count only from
 * trusted proxies, so a spoofed X-Forwarded-For, Forwarded or region header
 * changes no decision; a forced-canary override guarded by a secret from the
 * environment holds only with the secret, which the admin API never shows.
 * And the admin listener warns when it is exposed without a token.
 */
import type { Logger } from "pino";
import t from "tap";
import type { Config } from "../../src/config/schema.ts";
import { warnIfAdminExposed } from "../../src/runtime/serve.ts";
import { admin, send, startEcho, startGraygate } from "../proxy/helpers.ts";

const SECRET = "s3cret-4f9a2c";
const stable = await startEcho(t, "stable");
const canary = await startEcho(t, "canary");

function gatedConfig(trustedProxies: string[]) {
  return {
    server: { listen: "127.0.0.1:0", trustedProxies },
    admin: { listen: "127.0.0.1:0" },
    region: { header: "x-region", cidrs: { "eu-west": ["10.1.0.0/16"] } },
    upstreams: { s: { targets: [stable.url] }, c: { targets: [canary.url] } },
    routes: [
      {
        name: "app",
        versions: { stable: "s", canary: "c" },
        rules: [
          {
            name: "qa-token",
            when: { header: { "x-canary-token": "${CANARY_TOKEN}" } },
            to: "canary",
          },
          {
            // The safe form: the secret, and only from the QA network.
            name: "qa-network",
            when: { header: { "x-qa-token": "${CANARY_TOKEN}" }, ip: ["192.0.2.0/24"] },
            to: "canary",
          },
          { name: "partners", when: { ip: ["203.0.113.0/24"] }, to: "canary" },
          { name: "eu", when: { region: ["eu-west"] }, to: "canary" },
        ],
      },
    ],
  };
}

const SPOOFS: [string, Record<string, string>][] = [
  ["X-Forwarded-For naming a partner address", { "x-forwarded-for": "203.0.113.5" }],
  ["X-Forwarded-For from the eu-west block", { "x-forwarded-for": "10.1.2.3" }],
  ["Forwarded naming a partner address", { forwarded: "for=203.0.113.5;proto=https" }],
  ["X-Real-IP naming a partner address", { "x-real-ip": "203.0.113.5" }],
  ["a region header", { "x-region": "eu-west" }],
  ["a wrong override token", { "x-canary-token": "guess" }],
  ["an empty override token", { "x-canary-token": "" }],
];

t.test("from an untrusted peer, spoofed headers change nothing", async (t) => {
  const gg = await startGraygate(t, gatedConfig(["10.0.0.0/8"]), { CANARY_TOKEN: SECRET });
  for (const [what, headers] of SPOOFS) {
    const answer = await send(gg, "/", { headers });
    t.equal(answer.headers["x-graygate-version"], "stable", `${what}: stable`);
    const decision = JSON.parse(answer.text);
    t.equal(decision.version, "stable");
  }
  const spoofed = await send(gg, "/", { headers: { "x-forwarded-for": "203.0.113.5" } });
  t.equal(spoofed.status, 200);
  t.equal(
    stable.seen.at(-1)?.headers["x-forwarded-for"],
    "203.0.113.5, 127.0.0.1",
    "the claim is passed on, with the real peer appended",
  );
  const line = await gg.waitForLog((l) => l.msg === "request" && l.status === 200);
  t.equal(line.client, "127.0.0.1", "the access log names the real peer");

  const forced = await send(gg, "/", { headers: { "x-canary-token": SECRET } });
  t.equal(forced.headers["x-graygate-version"], "canary", "the secret token forces the canary");

  for (const [what, headers] of [
    ["the right secret from outside its ip limit", { "x-qa-token": SECRET }],
    [
      "the right secret with a spoofed X-Forwarded-For inside the limit",
      { "x-qa-token": SECRET, "x-forwarded-for": "192.0.2.7" },
    ],
  ] as const) {
    const answer = await send(gg, "/", { headers });
    t.equal(answer.headers["x-graygate-version"], "stable", `${what}: stable`);
  }

  const shown = (await admin(gg, "/config")).text;
  t.notOk(shown.includes(SECRET), "/config never shows the secret");
  t.ok(shown.includes("${CANARY_TOKEN}"), "/config shows where it comes from");
});

t.test("from a trusted proxy, its X-Forwarded-For and region header are believed", async (t) => {
  const gg = await startGraygate(t, gatedConfig(["127.0.0.1/32"]), { CANARY_TOKEN: SECRET });
  const viaXff = await send(gg, "/", { headers: { "x-forwarded-for": "203.0.113.5" } });
  t.equal(viaXff.headers["x-graygate-version"], "canary", "the partner address, by XFF");
  const qa = await send(gg, "/", {
    headers: { "x-qa-token": SECRET, "x-forwarded-for": "192.0.2.7" },
  });
  t.equal(qa.headers["x-graygate-version"], "canary", "the secret from inside its ip limit");
  const viaRegion = await send(gg, "/", { headers: { "x-region": "eu-west" } });
  t.equal(viaRegion.headers["x-graygate-version"], "canary", "the region header");
  const viaForwarded = await send(gg, "/", { headers: { forwarded: "for=203.0.113.5" } });
  t.equal(viaForwarded.headers["x-graygate-version"], "stable", "Forwarded is not read at all");
});

t.test("an admin listener off loopback and without a token is warned about", async (t) => {
  const warning = "the admin listener is not on loopback and has no token";
  const base = {
    server: { listen: "127.0.0.1:0" },
    upstreams: { s: { targets: [stable.url] } },
    routes: [{ name: "r", versions: { stable: "s" } }],
  };
  const exposed = await startGraygate(t, { ...base, admin: { listen: "0.0.0.0:0" } });
  const line = await exposed.waitForLog((l) => l.msg === warning);
  t.equal(line.level, "warn");
  const guarded = await startGraygate(
    t,
    {
      ...base,
      admin: { listen: "0.0.0.0:0", token: "${ADMIN_TOKEN}" },
    },
    { ADMIN_TOKEN: "t0ken" },
  );
  const loopback = await startGraygate(t, { ...base, admin: { listen: "127.0.0.1:0" } });
  for (const [what, gg] of [
    ["with a token", guarded],
    ["on loopback", loopback],
  ] as const) {
    t.notOk(
      gg.logLines().some((l) => l.msg === warning),
      `${what}: no warning`,
    );
  }
});

t.test("only a loopback address or name counts as loopback", async (t) => {
  const warned: string[] = [];
  const logger = { warn: (fields: { admin: string }) => warned.push(fields.admin) };
  for (const listen of ["127.0.0.1:9090", "127.9.9.9:9090", "[::1]:9090", "localhost:9090"]) {
    warnIfAdminExposed({ admin: { listen } } as Config, logger as unknown as Logger);
  }
  t.strictSame(warned, [], "loopback: no warning");
  for (const listen of ["127.example.com:9090", "0.0.0.0:9090", "10.0.0.1:9090", ":9090"]) {
    warnIfAdminExposed({ admin: { listen } } as Config, logger as unknown as Logger);
  }
  t.strictSame(
    warned,
    ["127.example.com:9090", "0.0.0.0:9090", "10.0.0.1:9090", ":9090"],
    "a name that only starts with 127., any address, all interfaces: warned",
  );
});
