// Writes config/graygate.schema.json from the zod schema (npm run schema).
import { writeFileSync } from "node:fs";
import { configJsonSchema } from "../src/config/schema.ts";

const file = new URL("../config/graygate.schema.json", import.meta.url);
writeFileSync(file, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${file.pathname}\n`);
