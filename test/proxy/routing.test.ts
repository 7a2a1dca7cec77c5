/** README, "What a request gets": which version answers, and the headers the upstream and the client see. */
import t from "tap";
import { canaryRoute, config, type Seen, send, startEcho, startGraygate } from "./helpers.ts";

const stable = await startEcho(t, "stable");
const canary = await startEcho(t, "canary");
const gg = await startGraygate(
  t,
  config([canaryRoute("web", stable.url, canary.url)], {
    features: {
      beta: { when: { header: { "x-beta": "1" } } },
      "dark-mode": { when: { header: { "x-beta": "1" } } },
      off: { enabled: false },
    },
  }),
);

/** The last request an echo upstream saw. */
const last = (upstream: { seen: Seen[] }) => upstream.seen.at(-1) as Seen;

t.test("x-canary: always is answered by the canary, and the answer says so", async (t) => {
  const answer = await send(gg, "/", { headers: { "x-canary": "always" } });
  t.equal(answer.status, 200);
  t.equal(JSON.parse(answer.text).version, "canary");
  t.equal(answer.headers["x-graygate-version"], "canary");
  t.equal(answer.headers["x-upstream"], "canary", "the upstream's own headers pass through");
  t.equal(last(canary).headers["x-graygate-version"], "canary");
  t.equal(last(canary).headers["x-graygate-rule"], "qa-force");
});

t.test("a plain request is answered by stable, rule default", async (t) => {
  const answer = await send(gg, "/");
  t.equal(answer.status, 200);
  t.equal(JSON.parse(answer.text).version, "stable");
  t.equal(answer.headers["x-graygate-version"], "stable");
  t.equal(last(stable).headers["x-graygate-version"], "stable");
  t.equal(last(stable).headers["x-graygate-rule"], "default");
});

t.test("enabled features go upstream comma-joined; client copies are replaced", async (t) => {
  await send(gg, "/", {
    headers: {
      "x-beta": "1",
      "x-graygate-version": "canary",
      "x-graygate-rule": "forged",
      "x-graygate-features": "forged",
    },
  });
  const headers = last(stable).headers;
  t.equal(headers["x-graygate-version"], "stable", "the client cannot pick the version");
  t.equal(headers["x-graygate-rule"], "default");
  t.equal(headers["x-graygate-features"], "beta,dark-mode");
});

t.test(
  "no enabled feature: x-graygate-features absent, even when the client sent one",
  async (t) => {
    await send(gg, "/", { headers: { "x-graygate-features": "forged" } });
    t.notOk("x-graygate-features" in last(stable).headers);
  },
);

t.test("x-request-id is kept when sent, generated when not", async (t) => {
  const kept = await send(gg, "/", { headers: { "x-request-id": "my-request-42" } });
  t.equal(last(stable).headers["x-request-id"], "my-request-42");
  t.equal(kept.status, 200);
  await send(gg, "/");
  const generated = last(stable).headers["x-request-id"];
  t.type(generated, "string");
  t.not(generated, "", "a generated id is not empty");
  await send(gg, "/");
  t.not(last(stable).headers["x-request-id"], generated, "each request gets its own id");
});

t.test("X-Forwarded-For is appended, Proto and Host set", async (t) => {
  await send(gg, "/", { headers: { "x-forwarded-for": "1.2.3.4", host: "shop.example:8443" } });
  const headers = last(stable).headers;
  t.equal(headers["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
  t.equal(headers["x-forwarded-proto"], "http");
  t.equal(headers["x-forwarded-host"], "shop.example:8443");
  t.equal(headers.host, "shop.example:8443", "the Host header is passed on");
  await send(gg, "/");
  t.equal(last(stable).headers["x-forwarded-for"], "127.0.0.1", "without one: the peer alone");
});

t.test("method, path, query and body are passed unchanged", async (t) => {
  const answer = await send(gg, "/a/b?x=1&y=%20", {
    method: "PUT",
    headers: { "x-canary": "always", "content-type": "text/plain" },
    body: "hello body",
  });
  t.equal(answer.status, 200);
  const seen = last(canary);
  t.equal(seen.method, "PUT");
  t.equal(seen.url, "/a/b?x=1&y=%20");
  t.equal(seen.body.toString(), "hello body");
  t.equal(seen.headers["content-type"], "text/plain");
  await send(gg, "/odd//path/%7E?q=a+b&q=c", { method: "DELETE" });
  t.equal(last(stable).method, "DELETE");
  t.equal(last(stable).url, "/odd//path/%7E?q=a+b&q=c");
});
