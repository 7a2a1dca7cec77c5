/**
 * The smuggling corpus (corpus.ts), every case pipelined on one connection
 * behind a slow good request and followed by a smuggled one, over a warm
 * upstream pool. The judge is what the upstream's strict parser received:
 * every request it got was answered to the client, in order; a refused case
 * gets its status after the good answer, then the connection closes, and
 * neither the case nor anything after it reaches the upstream.
 */
import t from "tap";
import { canaryRoute, config, startGraygate, stillServing } from "../proxy/helpers.ts";
import { CORPUS, type CorpusCase } from "./corpus.ts";
import { pipelined, startWitness } from "./helpers.ts";

const CONCURRENCY = 8;

/** The target of a case's request line (after any empty lines before it), query left out. */
function targetOf(bytes: string): string {
  const line = bytes.replace(/^[\r\n]+/, "").split(/[\r\n]/)[0] ?? "";
  return (line.split(/[ \t]+/)[1] ?? "").replace(/^https?:\/\/[^/]*/i, "").replace(/[?#].*/, "");
}

t.test("every corpus case: answered in order, refusals close, nothing smuggled", async (t) => {
  const witness = await startWitness(t);
  const gg = await startGraygate(t, config([canaryRoute("api", witness.url, witness.url)]));
  // A warm pool: upstream connections are open and idle before the first case.
  await Promise.all(
    Array.from({ length: 4 }, (_, i) =>
      pipelined(gg.proxyPort, `GET /warm-${i} HTTP/1.1\r\nHost: api.test\r\n\r\n`, 1),
    ),
  );
  const names = new Set<string>();
  const results: { c: CorpusCase; index: number; problems: string[]; got: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < CORPUS.length) {
      const index = next++;
      const c = CORPUS[index] as CorpusCase;
      const good = `/slow-good-${index}`;
      const smuggled = `/smuggled-${index}`;
      const bytes = `GET ${good} HTTP/1.1\r\nHost: api.test\r\n\r\n${c.bytes}GET ${smuggled} HTTP/1.1\r\nHost: api.test\r\n\r\n`;
      const reply = await pipelined(gg.proxyPort, bytes, 3, 4000);
      const problems: string[] = [];
      const [first, second] = reply.answers;
      if (first?.status !== 200 || first.headers["x-seen"] !== good) {
        problems.push("the good request was not answered first");
      }
      if (c.expect === "forward") {
        if (
          second?.status !== 200 ||
          second.headers["x-seen"]?.replace(/\?.*/, "") !== targetOf(c.bytes)
        ) {
          problems.push(`not forwarded: ${second?.status}`);
        }
        // What follows is either served in order or, if the connection closed, never forwarded.
        const third = reply.answers[2];
        const forwardedSmuggled = witness.seen.urls.includes(smuggled);
        if (forwardedSmuggled !== (third?.headers["x-seen"] === smuggled)) {
          problems.push("the request after it was forwarded but not answered, or the reverse");
        }
      } else {
        if (second?.status !== c.expect) problems.push(`status ${second?.status}, not ${c.expect}`);
        if (!/^\{"error":"[a-z_]+"/.test(second?.body ?? ""))
          problems.push("not graygate's JSON error");
        if (reply.answers.length !== 2) problems.push(`${reply.answers.length} answers`);
        if (!reply.closed) problems.push("not closed");
        if (witness.seen.urls.includes(smuggled))
          problems.push("the smuggled request was forwarded");
        const target = targetOf(c.bytes);
        if (
          target.startsWith("/") &&
          witness.seen.urls.some((u) => u.replace(/\?.*/, "") === target)
        ) {
          problems.push("the refused case was forwarded");
        }
      }
      results.push({ c, index, problems, got: reply.text.slice(0, 600) });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  results.sort((a, b) => a.index - b.index);
  for (const { c, problems, got } of results) {
    t.notOk(names.has(c.name), `${c.name}: a unique name`);
    names.add(c.name);
    t.strictSame(problems, [], `${c.class}: ${c.name} (${c.source})`, { got: JSON.stringify(got) });
  }
  t.equal(witness.seen.parseErrors, 0, "the upstream's strict parser refused nothing it received");
  t.notOk(witness.seen.text.includes("SMUGGLED"), "no smuggled marker reached the upstream");
  await stillServing(t, gg, "/");
});
