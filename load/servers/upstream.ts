/**
 * A minimal upstream for benchmarks when nginx is absent: 200 "ok" to
 * everything, keep-alive. `upstream.ts` listens on one free port and prints
 * its URL; `upstream.ts stable canary` listens on one free port per name (one
 * process, as one nginx serves both) and prints "NAME URL" lines, answering
 * with `x-upstream: NAME` so that a routing check can see where a request went.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const body = Buffer.from("ok\n");
const names = process.argv.slice(2);

function listen(name: string | undefined): void {
  const headers: Record<string, string | number> = {
    "content-type": "text/plain",
    "content-length": body.length,
  };
  if (name !== undefined) headers["x-upstream"] = name;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, headers);
    res.end(body);
  });
  // Proxies keep their pools warm across runs: never close an idle connection under them.
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.stdout.write(name === undefined ? `${url}\n` : `${name} ${url}\n`);
  });
}

if (names.length === 0) listen(undefined);
for (const name of names) listen(name);
process.on("SIGTERM", () => process.exit(0));
