// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is config syntax here
/** README, "Admin API", against a graygate process. */
import { readFileSync } from "node:fs";
import t from "tap";
import { admin, LISTEN, QA_FORCE, sha256, startEcho, startGraygate } from "../proxy/helpers.ts";

const stable = await startEcho(t, "stable");
const canary = await startEcho(t, "canary");
const gg = await startGraygate(
  t,
  {
    ...LISTEN,
    admin: { ...LISTEN.admin, token: "s3cret" },
    upstreams: {
      "web-stable": { targets: ["${GG_TEST_STABLE}"] },
      "web-canary": { targets: [canary.url] },
    },
    routes: [
      { name: "web", versions: { stable: "web-stable", canary: "web-canary" }, rules: [QA_FORCE] },
    ],
  },
  { GG_TEST_STABLE: stable.url },
);

t.test("healthz and readyz answer 200", async (t) => {
  t.equal((await admin(gg, "/healthz")).status, 200);
  t.equal((await admin(gg, "/readyz")).status, 200);
});

t.test("/config: hash, loadedAt, source and the config with secrets redacted", async (t) => {
  const answer = await admin(gg, "/config");
  t.equal(answer.status, 200);
  t.match(answer.headers["content-type"], /^application\/json/);
  const body = JSON.parse(answer.text);
  t.strictSame(Object.keys(body).sort(), ["config", "hash", "loadedAt", "source"]);
  t.equal(body.hash, sha256(readFileSync(gg.file)));
  t.equal(body.source, gg.file);
  t.ok(Number.isFinite(Date.parse(body.loadedAt)), "loadedAt is a date");
  t.equal(body.config.admin.token, "[redacted]");
  t.notMatch(answer.text, "s3cret");
  t.strictSame(body.config.upstreams["web-stable"].targets, ["${GG_TEST_STABLE}"]);
  t.notMatch(answer.text, stable.url, "the environment's value is not shown");
});

t.test("/explain shows the decision", async (t) => {
  const answer = await admin(gg, "/explain?path=/&header=x-canary:always");
  t.equal(answer.status, 200);
  t.match(JSON.parse(answer.text), {
    route: "web",
    version: "canary",
    rule: "qa-force",
    upstream: "web-canary",
  });
  const plain = JSON.parse((await admin(gg, "/explain?path=/")).text);
  t.match(plain, { route: "web", version: "stable", rule: "default", upstream: "web-stable" });
});

t.test("an unknown admin path is a JSON 404", async (t) => {
  const answer = await admin(gg, "/no-such-endpoint");
  t.equal(answer.status, 404);
  t.match(answer.headers["content-type"], /^application\/json/);
  t.match(JSON.parse(answer.text), { error: String });
});

t.test("/config hides a literal token written as a ${VAR:-default}'s default", async (t) => {
  const other = await startGraygate(t, {
    ...LISTEN,
    admin: { ...LISTEN.admin, token: "${GG_TEST_TOKEN:-s3cret}" },
    upstreams: { a: { targets: [stable.url] } },
    routes: [{ name: "r", versions: { stable: "a" } }],
  });
  const answer = await admin(other, "/config");
  t.equal(answer.status, 200);
  t.notMatch(answer.text, "s3cret", "the default, a literal secret, is not shown");
});
