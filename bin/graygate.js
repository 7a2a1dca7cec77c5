#!/usr/bin/env node
// graygate runs on Node.js 24 (it executes its TypeScript sources directly).
// Started by an older Node, as when a system Node comes first on PATH, it
// re-runs itself with the Node 24 that the project installs as a dependency.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major >= 24) {
  await import("../src/cli.ts");
} else {
  const require = createRequire(import.meta.url);
  let node;
  try {
    node = require.resolve("node/bin/node");
  } catch {
    process.stderr.write(
      `graygate: needs Node.js 24 or later (this is ${process.version}); run npm ci to install it locally\n`,
    );
    process.exit(1);
  }
  // Its own process group, so a terminal's Ctrl-C reaches it once: through us.
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    detached: true,
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => child.kill(signal));
  }
  child.on("exit", (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
}
