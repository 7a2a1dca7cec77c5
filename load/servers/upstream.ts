/** A minimal upstream for benchmarks: 200 "ok" to everything, keep-alive. Prints its URL. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const body = Buffer.from("ok\n");
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
