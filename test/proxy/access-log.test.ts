/** The access log: one JSON line per request on stdout, and no secrets anywhere in it. */
import t from "tap";
import { canaryRoute, config, type LogLine, send, startEcho, startGraygate } from "./helpers.ts";

const stable = await startEcho(t, "stable");
const canary = await startEcho(t, "canary");
const gg = await startGraygate(t, config([canaryRoute("web", stable.url, canary.url)]));

/** The access lines printed so far. */
const accessLines = () => gg.logLines().filter((line) => line.msg === "request");

/** Sends a request with this id and waits for its access line. */
async function logged(path: string, headers: Record<string, string>): Promise<LogLine> {
  await send(gg, path, { headers });
  return gg.waitForLog(
    (line) => line.msg === "request" && line.requestId === headers["x-request-id"],
  );
}

t.test("an access line has every field, and the path without its query", async (t) => {
  const line = await logged("/orders/7?token=qs-secret-4471", {
    "x-request-id": "log-1",
    "x-canary": "always",
    cookie: "sid=topsecret-cookie",
    authorization: "Bearer topsecret-bearer",
  });
  t.match(line, {
    method: "GET",
    path: "/orders/7",
    status: 200,
    route: "web",
    version: "canary",
    rule: "qa-force",
    target: canary.url,
    requestId: "log-1",
    client: "127.0.0.1",
  });
  t.type(line.duration, "number");
  t.ok((line.duration as number) >= 0, "duration is not negative");
  t.equal(
    line.bytes,
    JSON.stringify({ version: "canary", method: "GET", url: "/orders/7?token=qs-secret-4471" })
      .length,
  );
});

t.test("one line per request, each with its own id", async (t) => {
  const before = accessLines().length;
  for (const id of ["log-a", "log-b", "log-c"]) await logged("/", { "x-request-id": id });
  const lines = accessLines().slice(before);
  t.strictSame(
    lines.map((line) => [line.requestId, line.version, line.rule, line.status]),
    [
      ["log-a", "stable", "default", 200],
      ["log-b", "stable", "default", 200],
      ["log-c", "stable", "default", 200],
    ],
  );
});

t.test("no secret of a request appears anywhere on stdout", async (t) => {
  await logged("/login?token=qs-secret-9902&user=x", {
    "x-request-id": "log-secret",
    cookie: "sid=topsecret-cookie-2",
    authorization: "Bearer topsecret-bearer-2",
  });
  const exit = await gg.stop();
  t.equal(exit.code, 0);
  for (const secret of ["qs-secret", "topsecret", "token="]) {
    t.notMatch(gg.stdout, secret, `${secret} is not logged`);
  }
  t.ok(
    gg.logLines().some((line) => line.requestId === "log-secret"),
    "the request was logged",
  );
});
