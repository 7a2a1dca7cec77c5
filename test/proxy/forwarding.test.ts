/**
 * One forwarding policy (src/proxy/forwarding.ts): the same cases over HTTP
 * and over WebSocket, which must agree on who answers. Each upstream serves
 * both and names itself in `x-upstream`.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";
import { WebSocket, WebSocketServer } from "ws";
import { config, deadUrl, sample, scrape, send, startGraygate } from "./helpers.ts";

/** An upstream named `name` for HTTP (200) and WebSocket (101), both with `x-upstream`. */
async function both(t: Test, name: string): Promise<string> {
  const server = createServer((_req, res) => {
    res.setHeader("x-upstream", name);
    res.end(name);
  });
  const wss = new WebSocketServer({ server });
  wss.on("headers", (headers) => headers.push(`x-upstream: ${name}`));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.teardown(() => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Case {
  what: string;
  stable: string[];
  canary: string[];
  fallback: boolean;
  /** Who answers (x-upstream), with which version, or the error status. */
  expect: { upstream: string; version: string } | { status: number };
  fallbacks: number;
}

const good = await both(t, "good");
const other = await both(t, "other");
const CASES: Case[] = [
  {
    what: "a canary target that refuses: the next target of the canary",
    stable: [other],
    canary: [await deadUrl(), good],
    fallback: true,
    expect: { upstream: "good", version: "canary" },
    fallbacks: 0,
  },
  {
    what: "a canary whose only target refuses: stable",
    stable: [good],
    canary: [await deadUrl()],
    fallback: true,
    expect: { upstream: "good", version: "stable" },
    fallbacks: 1,
  },
  {
    what: "a canary whose only target refuses, no fallback: 502",
    stable: [good],
    canary: [await deadUrl()],
    fallback: false,
    expect: { status: 502 },
    fallbacks: 0,
  },
  {
    what: "every target of both refuses: 502",
    stable: [await deadUrl()],
    canary: [await deadUrl(), await deadUrl()],
    fallback: true,
    expect: { status: 502 },
    fallbacks: 1,
  },
];

/** The answer of a WebSocket upgrade: its status and headers (a 101, or the refusal). */
function upgrade(
  t: Test,
  url: string,
): Promise<{ status: number; headers: Record<string, unknown> }> {
  const socket = new WebSocket(url, { headers: { "x-canary": "always" } });
  t.teardown(() => socket.terminate());
  socket.on("error", () => {});
  return new Promise((resolve) => {
    socket.on("upgrade", (response) =>
      resolve({ status: response.statusCode ?? 0, headers: response.headers }),
    );
    socket.on("unexpected-response", (request, response) => {
      resolve({ status: response.statusCode ?? 0, headers: response.headers });
      request.destroy();
    });
  });
}

for (const c of CASES) {
  t.test(c.what, async (t) => {
    const gg = await startGraygate(t, {
      ...config([]),
      upstreams: { s: { targets: c.stable }, c: { targets: c.canary } },
      routes: [
        {
          name: "r",
          fallback: c.fallback,
          versions: { stable: "s", canary: "c" },
          rules: [{ name: "qa", when: { header: { "x-canary": "always" } }, to: "canary" }],
        },
      ],
    });
    const http = await send(gg, "/", { headers: { "x-canary": "always" } });
    const ws = await upgrade(t, `ws://127.0.0.1:${gg.proxyPort}/`);
    if ("status" in c.expect) {
      t.equal(http.status, c.expect.status, `HTTP: ${c.expect.status}`);
      t.equal(ws.status, c.expect.status, `WebSocket: ${c.expect.status}`);
    } else {
      t.equal(http.status, 200, "HTTP: 200");
      t.equal(ws.status, 101, "WebSocket: 101");
      t.equal(http.headers["x-upstream"], c.expect.upstream, `HTTP: ${c.expect.upstream} answers`);
      t.equal(
        ws.headers["x-upstream"],
        c.expect.upstream,
        `WebSocket: ${c.expect.upstream} answers`,
      );
      t.equal(http.headers["x-graygate-version"], c.expect.version, `HTTP: ${c.expect.version}`);
      t.equal(ws.headers["x-graygate-version"], c.expect.version, `WebSocket: ${c.expect.version}`);
    }
    const text = (await scrape(gg)).text;
    const labels = { route: "r", from: "canary", to: "stable" };
    t.equal(
      sample(text, "graygate_fallbacks_total", labels) ?? 0,
      c.fallbacks * 2,
      "fallbacks, each way",
    );
  });
}
