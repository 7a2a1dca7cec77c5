/**
 * `graygate demo` (what `npm start` runs): two echo upstreams, stable and
 * canary, and graygate in front of them with config/demo.yaml.
 */
import { fileURLToPath } from "node:url";
import { startEcho } from "./demo/echo.ts";
import { addressText, runUntilSignal, startServer } from "./runtime/serve.ts";

export async function demo(_args: string[]): Promise<number> {
  const stable = await startEcho("stable");
  const canary = await startEcho("canary");
  process.env.GRAYGATE_DEMO_STABLE = stable.url;
  process.env.GRAYGATE_DEMO_CANARY = canary.url;
  const configFile = fileURLToPath(new URL("../config/demo.yaml", import.meta.url));
  const started = await startServer({ configFile });
  if (!started.ok) {
    for (const problem of started.problems) process.stderr.write(`${JSON.stringify(problem)}\n`);
    await Promise.all([stable.close(), canary.close()]);
    return 1;
  }
  const { proxy, admin } = started.server;
  const base = `http://localhost:${proxy.port}`;
  const adminBase = admin === undefined ? "" : addressText(admin, "http");
  process.stderr.write(
    [
      "",
      `graygate demo: proxy on ${base}, admin on ${adminBase}`,
      `  echo upstreams: stable ${stable.url}, canary ${canary.url}`,
      "",
      "Try:",
      `  curl -i -H 'x-canary: always' ${base}/          # the canary answers`,
      `  curl -i ${base}/                                # stable answers`,
      `  curl -i -H 'x-user-id: user-2' ${base}/orders   # a sticky 20% go to the canary`,
      `  curl -N ${base}/sse                             # server-sent events, streamed`,
      `  curl ${adminBase}/metrics | grep graygate_requests_total`,
      `  curl '${adminBase}/explain?path=/&header=x-user-id:user-2'`,
      "",
      "Ctrl-C stops it.",
      "",
    ].join("\n"),
  );
  const status = await runUntilSignal(started.server);
  await Promise.all([stable.close(), canary.close()]);
  return status;
}
