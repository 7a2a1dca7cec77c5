/**
 * The shipped graygate configs start with the yaml-language-server line
 * that gives editors completion from graygate's JSON Schema (docs/CONFIG.md, "Editor completion").
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import t from "tap";
import { embeddedConfigText, repoFile } from "./helpers.ts";

const SCHEMA_LINE = /^# yaml-language-server: \$schema=(\S*graygate\.schema\.json)$/;

for (const path of ["config/graygate.yaml", "config/demo.yaml"]) {
  t.test(`${path} points at the schema beside it`, async (t) => {
    const [first = ""] = readFileSync(repoFile(path), "utf8").split("\n");
    const schema = SCHEMA_LINE.exec(first)?.[1];
    t.ok(schema, "the first line names graygate.schema.json", { first });
    const target = resolve(dirname(repoFile(path)), schema ?? "");
    t.equal(target, repoFile("config/graygate.schema.json"));
    t.ok(existsSync(target), "which exists");
  });
}

t.test("the ConfigMap's graygate.yaml starts with it too", async (t) => {
  const [first = ""] = embeddedConfigText().split("\n");
  t.match(first, SCHEMA_LINE);
});
