/**
 * A small upstream for the demo and the tests: answers with what it saw, as
 * JSON, and names its version. `/sse` streams three server-sent events.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface EchoServer {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

export async function startEcho(version: string, host = "127.0.0.1"): Promise<EchoServer> {
  const server = createServer((req, res) => {
    if (req.url === "/sse") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(`data: ${JSON.stringify({ version, event: ++sent })}\n\n`);
        if (sent === 3) {
          clearInterval(timer);
          res.end();
        }
      }, 200);
      res.on("close", () => clearInterval(timer));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.stringify(
        {
          version,
          method: req.method,
          url: req.url,
          headers: req.headers,
          bodyBytes: Buffer.concat(chunks).length,
        },
        null,
        2,
      );
      res.writeHead(200, { "content-type": "application/json", "x-echo-version": version });
      res.end(`${body}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
