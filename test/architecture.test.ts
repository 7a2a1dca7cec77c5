/**
 * One direction of flow (README, "Layout"): each room of src/ imports only
 * the rooms below it, so no two rooms import each other. Read from the
 * sources' import lines, as written.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Which rooms each room may import (besides itself). The entry points (cli, demo) may import any. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  net: [],
  config: ["net"],
  observe: ["config", "net"],
  routing: ["config", "net"],
  proxy: ["routing", "config", "net", "observe"],
  admin: ["proxy", "routing", "config", "net", "observe"],
  runtime: ["admin", "proxy", "routing", "config", "net", "observe"],
};
const ENTRY_POINTS = new Set(["cli.ts", "demo.ts", "demo"]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** "proxy" for src/proxy/gateway.ts; the file or folder name for what sits at the top. */
function roomOf(file: string): string {
  return relative(SRC, file).split("/")[0] as string;
}

const edges: { from: string; to: string; file: string; line: number }[] = [];
for (const file of sources(SRC)) {
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((text, index) => {
    const spec = /^(?:import|export)\b.*\bfrom "(\.{1,2}\/[^"]+)"/.exec(text)?.[1];
    if (spec === undefined) return;
    const from = roomOf(file);
    const to = roomOf(resolve(dirname(file), spec));
    if (from !== to) edges.push({ from, to, file: relative(SRC, file), line: index + 1 });
  });
}

t.test("the rooms are the ones this test knows", async (t) => {
  const rooms = new Set(sources(SRC).map(roomOf));
  for (const room of rooms) {
    t.ok(room in MAY_IMPORT || ENTRY_POINTS.has(room), `${room} has a place in the order`);
  }
});

t.test("every import between rooms points down", async (t) => {
  t.ok(edges.length > 0, "imports between rooms were found");
  const upward = edges.filter(
    (edge) => !ENTRY_POINTS.has(edge.from) && !(MAY_IMPORT[edge.from] ?? []).includes(edge.to),
  );
  t.strictSame(
    upward.map((edge) => `src/${edge.file}:${edge.line}: ${edge.from} imports ${edge.to}`),
    [],
    "no room imports one above it or beside it",
  );
});

t.test("nothing below the entry points imports them", async (t) => {
  const intoEntry = edges.filter(
    (edge) => ENTRY_POINTS.has(edge.to) && !ENTRY_POINTS.has(edge.from),
  );
  t.strictSame(
    intoEntry.map((edge) => `src/${edge.file}:${edge.line}`),
    [],
    "nothing below imports cli or demo",
  );
});
