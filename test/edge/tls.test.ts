/**
 * TLS both ways: the HTTPS listener (`server.tls`), and HTTPS upstreams
 * verified against `tls.ca` and `serverName`, with verification on by
 * default. Certificates are made for each run with openssl; the tests skip
 * where it is not installed.
 */
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import { type AddressInfo, connect } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import t, { type Test } from "tap";
import { Agent } from "undici";
import { WebSocket, WebSocketServer } from "ws";
import {
  canaryRoute,
  config,
  errorBody,
  sample,
  scrape,
  send,
  startEcho,
  startGraygate,
  tempDir,
} from "../proxy/helpers.ts";

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

if (!hasOpenssl()) {
  t.pass("skipped: openssl is not installed, so there are no certificates to test TLS with", {
    skip: "apt-get install openssl",
  });
} else {
  await tlsTests();
}

interface Certificates {
  /** The test CA's certificate (PEM file). */
  ca: string;
  /** A certificate for upstream.internal, localhost and 127.0.0.1, signed by the CA, and its key. */
  cert: string;
  key: string;
}

/** A CA and one server certificate, in a temp folder. */
function makeCertificates(t: Test): Certificates {
  const dir = tempDir(t);
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=graygate test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
  openssl(
    "req",
    ...ec,
    "-keyout",
    at("server.key"),
    "-out",
    at("server.csr"),
    "-subj",
    "/CN=upstream.internal",
  );
  writeFileSync(
    at("server.ext"),
    "subjectAltName=DNS:upstream.internal,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  openssl(
    "x509",
    "-req",
    "-in",
    at("server.csr"),
    "-CA",
    at("ca.pem"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-out",
    at("server.pem"),
    "-days",
    "2",
    "-extfile",
    at("server.ext"),
  );
  return { ca: at("ca.pem"), cert: at("server.pem"), key: at("server.key") };
}

/** An HTTPS upstream answering its name and the SNI it was reached with. */
async function httpsUpstream(t: Test, certs: Certificates, name: string) {
  const server: Server = createHttpsServer(
    { cert: readFileSync(certs.cert), key: readFileSync(certs.key) },
    (req, res) => {
      const sni = (req.socket as { servername?: string | false }).servername;
      res.end(JSON.stringify({ name, sni, proto: req.headers["x-forwarded-proto"] }));
    },
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function tlsTests() {
  const certs = makeCertificates(t);
  const echo = await startEcho(t, "plain");

  t.test("the HTTPS listener serves, and tells the upstream it was https", async (t) => {
    const gg = await startGraygate(
      t,
      config([canaryRoute("secure", echo.url, echo.url)], {
        server: { tls: { cert: certs.cert, key: certs.key }, timeouts: { headers: "1s" } },
      }),
    );
    t.match(gg.proxy, /^https:\/\//, "the start line names https");
    const trusting = new Agent({ connect: { ca: readFileSync(certs.ca) } });
    t.teardown(() => trusting.close());
    const answer = await send(gg, `https://localhost:${gg.proxyPort}/hello`, {
      dispatcher: trusting,
    });
    t.equal(answer.status, 200);
    t.equal(answer.headers["x-graygate-version"], "stable");
    t.equal(echo.seen.at(-1)?.headers["x-forwarded-proto"], "https");

    // Plain HTTP on the TLS port, and a client that never starts its handshake: closed, no harm.
    const plain = connect(gg.proxyPort, "127.0.0.1");
    plain.on("error", () => {});
    plain.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    await once(plain, "close");
    const silent = connect(gg.proxyPort, "127.0.0.1");
    silent.on("error", () => {});
    const started = performance.now();
    await once(silent, "close");
    const waited = performance.now() - started;
    t.ok(
      waited <= 2000,
      `a silent TLS client is cut off with the headers timeout (${Math.round(waited)} ms)`,
    );
    // A handshake that fails on verification (the client does not trust the CA).
    const distrustful = tlsConnect({
      port: gg.proxyPort,
      host: "127.0.0.1",
      servername: "localhost",
    });
    await t.rejects(once(distrustful, "secureConnect"), "an untrusting client fails its handshake");
    distrustful.destroy();
    const again = await send(gg, `https://localhost:${gg.proxyPort}/again`, {
      dispatcher: trusting,
    });
    t.equal(again.status, 200, "and the listener serves on");
  });

  t.test("HTTPS upstreams: tls.ca and serverName, verification on by default", async (t) => {
    const upstream = await httpsUpstream(t, certs, "secure-upstream");
    const gg = await startGraygate(t, {
      ...config([]),
      upstreams: {
        named: { targets: [upstream.url], tls: { ca: certs.ca, serverName: "upstream.internal" } },
        "by-ip": { targets: [upstream.url], tls: { ca: certs.ca } },
        unverified: { targets: [upstream.url] },
        "wrong-name": {
          targets: [upstream.url],
          tls: { ca: certs.ca, serverName: "other.internal" },
        },
        plain: { targets: [echo.url] },
      },
      routes: [
        { name: "named", match: { path: { prefix: "/named" } }, versions: { stable: "named" } },
        { name: "by-ip", match: { path: { prefix: "/by-ip" } }, versions: { stable: "by-ip" } },
        {
          name: "unverified",
          match: { path: { prefix: "/unverified" } },
          versions: { stable: "unverified" },
        },
        {
          name: "wrong-name",
          match: { path: { prefix: "/wrong-name" } },
          versions: { stable: "wrong-name" },
        },
        {
          name: "canary-unverified",
          versions: { stable: "plain", canary: "unverified" },
          rules: [{ name: "all", when: { header: { "x-canary": "always" } }, to: "canary" }],
        },
      ],
    });
    const named = JSON.parse((await send(gg, "/named")).text);
    t.equal(named.name, "secure-upstream", "verified against the CA and the server name");
    t.equal(named.sni, "upstream.internal", "SNI is the serverName");
    const byIp = await send(gg, "/by-ip");
    t.equal(byIp.status, 200, "verified against the CA and the target's IP");

    errorBody(t, await send(gg, "/unverified"), 502, "upstream_unreachable");
    errorBody(t, await send(gg, "/wrong-name"), 502, "upstream_unreachable");
    const { text } = await scrape(gg);
    t.equal(
      sample(text, "graygate_upstream_errors_total", {
        route: "unverified",
        version: "stable",
        upstream: "unverified",
        reason: "other",
      }),
      1,
      "a certificate nobody vouches for is refused: verification is on by default",
    );
    const fellBack = await send(gg, "/any", { headers: { "x-canary": "always" } });
    t.equal(fellBack.headers["x-graygate-version"], "stable", "a canary failing TLS falls back");
  });

  t.test("a WebSocket to an HTTPS upstream uses its tls.ca and serverName", async (t) => {
    const upstream = await httpsUpstream(t, certs, "ws");
    const wss = new WebSocketServer({ server: upstream.server });
    const snis: (string | false | undefined)[] = [];
    wss.on("connection", (socket, req) => {
      snis.push((req.socket as { servername?: string | false }).servername);
      socket.on("message", (data) => socket.send(`echo ${String(data)}`));
    });
    t.teardown(() => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    });
    const gg = await startGraygate(t, {
      ...config([]),
      upstreams: {
        wsu: { targets: [upstream.url], tls: { ca: certs.ca, serverName: "upstream.internal" } },
        bad: { targets: [upstream.url] },
        byhost: { targets: [upstream.url], tls: { ca: certs.ca } },
      },
      routes: [
        { name: "bad", match: { path: "/bad" }, versions: { stable: "bad" } },
        { name: "byhost", match: { path: "/byhost" }, versions: { stable: "byhost" } },
        { name: "ws", versions: { stable: "wsu" } },
      ],
    });
    const socket = new WebSocket(`ws://127.0.0.1:${gg.proxyPort}/socket`);
    t.teardown(() => socket.terminate());
    await once(socket, "open");
    socket.send("hi");
    const [reply] = await once(socket, "message");
    t.equal(String(reply), "echo hi", "tunnelled to the verified upstream");
    t.equal(snis.at(-1), "upstream.internal", "SNI is the serverName");

    // Without serverName, as for HTTP: the Host sent names the server to verify (and SNI).
    const byHost = new WebSocket(`ws://127.0.0.1:${gg.proxyPort}/byhost`, {
      headers: { host: "upstream.internal" },
    });
    t.teardown(() => byHost.terminate());
    await once(byHost, "open");
    byHost.send("hello");
    const [echoed] = await once(byHost, "message");
    t.equal(String(echoed), "echo hello", "tunnelled, verified by the Host's name");
    t.equal(snis.at(-1), "upstream.internal", "SNI is the Host's name");

    const refused = new WebSocket(`ws://127.0.0.1:${gg.proxyPort}/bad`);
    refused.on("error", () => {});
    const [request, response] = await once(refused, "unexpected-response");
    t.equal((response as { statusCode: number }).statusCode, 502, "an unverified upstream: 502");
    (request as { destroy(): void }).destroy();
  });
}
