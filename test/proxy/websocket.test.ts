/** README, "What a request gets": WebSocket upgrades are routed by the same rules and tunnelled both ways. */
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import t, { type Test } from "tap";
import { WebSocket, WebSocketServer } from "ws";
import {
  canaryRoute,
  config,
  deadUrl,
  sample,
  scrape,
  send,
  startEcho,
  startGraygate,
  stillServing,
} from "./helpers.ts";

/** The canary: a WebSocket server that echoes every message and records the upgrade request. */
const upgrades: IncomingMessage[] = [];
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await once(wss, "listening");
wss.on("connection", (socket, req) => {
  upgrades.push(req);
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});
t.teardown(async () => {
  for (const client of wss.clients) client.terminate();
  await new Promise((resolve) => wss.close(resolve));
});
const wsUrl = `http://127.0.0.1:${(wss.address() as { port: number }).port}`;

const stable = await startEcho(t, "stable");
const gg = await startGraygate(
  t,
  config([
    canaryRoute("dead", await deadUrl(), await deadUrl(), { match: { path: "/dead" } }),
    canaryRoute("fb", wsUrl, await deadUrl(), { match: { path: "/fb" } }),
    canaryRoute("ws", stable.url, wsUrl),
  ]),
);

interface Connected {
  socket: WebSocket;
  /** The 101, or the answer that refused the upgrade. */
  response: IncomingMessage;
  /** The refusal's body; "" after a 101. */
  body: string;
}

/** Opens a WebSocket through graygate; resolves on open or on a non-101 answer. */
function connect(t: Test, path: string, headers: Record<string, string>): Promise<Connected> {
  const socket = new WebSocket(`ws://127.0.0.1:${gg.proxyPort}${path}`, { headers });
  t.teardown(() => socket.terminate());
  return new Promise((resolve, reject) => {
    let upgrade: IncomingMessage | undefined;
    socket.on("upgrade", (response) => {
      upgrade = response;
    });
    socket.on("open", () => resolve({ socket, response: upgrade as IncomingMessage, body: "" }));
    socket.on("unexpected-response", (_request, response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve({ socket, response, body }));
    });
    socket.on("error", reject);
  });
}

t.test("x-canary: always upgrades to the canary, and messages echo through", async (t) => {
  const { socket, response } = await connect(t, "/chat?room=1", { "x-canary": "always" });
  t.equal(response.statusCode, 101);
  t.equal(response.headers["x-graygate-version"], "canary", "the 101 names the version");
  const seen = upgrades.at(-1)?.headers ?? {};
  t.equal(upgrades.at(-1)?.url, "/chat?room=1");
  t.equal(seen["x-graygate-version"], "canary", "the upstream is told the version");
  t.equal(seen["x-graygate-rule"], "qa-force");
  t.equal(seen["x-forwarded-for"], "127.0.0.1");

  socket.send("hello through graygate");
  const [message, isBinary] = (await once(socket, "message")) as [Buffer, boolean];
  t.equal(message.toString(), "hello through graygate");
  t.equal(isBinary, false);
  socket.send(Buffer.from([0, 1, 2, 255]));
  const [binary] = (await once(socket, "message")) as [Buffer];
  t.strictSame([...binary], [0, 1, 2, 255]);
  socket.close();
  await once(socket, "close");
});

t.test("a WebSocket to an unreachable upstream gets a JSON 502, not a 101", async (t) => {
  const { response, body } = await connect(t, "/dead", {});
  t.not(response.statusCode, 101);
  t.equal(response.statusCode, 502);
  t.match(JSON.parse(body), { error: "upstream_unreachable", route: "dead", version: "stable" });
  await stillServing(t, gg, "/");
  t.equal(JSON.parse((await send(gg, "/")).text).version, "stable");
});

t.test("a WebSocket whose canary refuses falls back to stable (fallback: true)", async (t) => {
  const before = upgrades.length;
  const { socket, response } = await connect(t, "/fb", { "x-canary": "always" });
  t.equal(response.statusCode, 101, "upgraded by stable");
  t.equal(response.headers["x-graygate-version"], "stable");
  const versions = upgrades.slice(before).map((req) => req.headers["x-graygate-version"]);
  t.strictSame(versions, ["stable"], "stable was told it serves");
  const labels = { route: "fb", from: "canary", to: "stable" };
  t.equal(sample((await scrape(gg)).text, "graygate_fallbacks_total", labels), 1);
  socket.terminate();
});
