/**
 * The floor to compare with: the smallest correct-ish undici proxy, no rules,
 * no metrics, no logs. One keep-alive Pool, Pool.stream into the response.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";

const upstream = process.argv[2] as string;
const pool = new Pool(upstream, { connections: 256, pipelining: 1 });
const HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-connection",
]);

const server = createServer((req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value !== undefined && !HOP.has(name)) headers[name] = value;
  }
  pool
    .stream(
      {
        path: req.url ?? "/",
        method: req.method as "GET",
        headers,
        body: req.method === "GET" ? null : req,
      },
      ({ statusCode, headers: upstreamHeaders }) => {
        const out: Record<string, string | string[]> = {};
        for (const name in upstreamHeaders) {
          const value = upstreamHeaders[name];
          if (value !== undefined && !HOP.has(name)) out[name] = value;
        }
        res.writeHead(statusCode, out);
        return res;
      },
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});
// Keep-alive across the idle gaps between runs.
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
