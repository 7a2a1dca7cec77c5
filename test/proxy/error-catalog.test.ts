/** docs/ERRORS.md lists every error code of the catalog, with its status, and no other. */
import { readFileSync } from "node:fs";
import t from "tap";
import { ERRORS } from "../../src/proxy/errors.ts";

const page = readFileSync(new URL("../../docs/ERRORS.md", import.meta.url), "utf8");
const documented = new Map(
  [...page.matchAll(/^\| `([a-z_]+)` +\| (\d{3}) +\|/gm)].map((m) => [
    m[1] as string,
    Number(m[2]),
  ]),
);

t.test("every code in the catalog is documented with its status", async (t) => {
  for (const [code, { status }] of Object.entries(ERRORS)) {
    t.equal(documented.get(code), status, `${code}: ${status}`);
  }
});

t.test("the page documents no code the catalog lacks", async (t) => {
  t.strictSame(
    [...documented.keys()].filter((code) => !(code in ERRORS)),
    [],
  );
});

t.test("every message is a lower-case clause without a final stop", async (t) => {
  for (const [code, { message }] of Object.entries(ERRORS)) {
    t.match(message, /^[a-z].*[^.]$/, code);
  }
});
