/**
 * http-proxy-3 as most Node proxies use it: one createProxyServer with a
 * keep-alive agent (without one, every request opens a new upstream
 * connection), no rules, metrics or logs. Prints its URL.
 */
import { Agent, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createProxyServer } from "http-proxy-3";

const target = process.argv[2] as string;
const proxy = createProxyServer({
  target,
  agent: new Agent({ keepAlive: true, maxSockets: 256 }),
});
// Without an error handler, one refused or reset upstream connection kills the process.
proxy.on("error", (_error, _req, res) => {
  if ("writeHead" in res && !res.headersSent) res.writeHead(502);
  res.end();
});

const server = createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
