/** config/graygate.schema.json is the zod schema's JSON Schema, kept current. */
import { readFileSync } from "node:fs";
import t from "tap";
import { configJsonSchema } from "../../src/config/schema.ts";
import { expectExit, repoFile, SHIPPED_CONFIG } from "./helpers.ts";

const SCHEMA_FILE = repoFile("config/graygate.schema.json");
const generated = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;

t.test("the committed config/graygate.schema.json is current", async (t) => {
  t.equal(
    readFileSync(SCHEMA_FILE, "utf8"),
    generated,
    "config/graygate.schema.json is stale: run `npm run schema` and commit the result",
  );
});

t.test("the schema is JSON Schema draft 2020-12 of the file as written", async (t) => {
  const schema = configJsonSchema();
  t.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
  t.equal(schema.type, "object");
  t.strictSame(schema.required, ["upstreams", "routes"]);
  t.match(schema.properties, { server: {}, admin: {}, region: {}, upstreams: {}, routes: {} });
  t.equal(schema.additionalProperties, false, "unknown keys are errors");
});

t.test("graygate schema prints the same JSON and exits 0", async (t) => {
  const run = await expectExit(t, ["schema"], 0);
  t.equal(run.stderr, "");
  t.equal(run.stdout, generated);
});

t.test("graygate schema takes no arguments", async (t) => {
  const run = await expectExit(t, ["schema", "extra"], 2);
  t.match(run.stderr, "schema takes no arguments");
});

t.test("the shipped config points editors at the shipped schema", async (t) => {
  const [first] = readFileSync(SHIPPED_CONFIG, "utf8").split("\n");
  t.equal(first, "# yaml-language-server: $schema=./graygate.schema.json");
});
