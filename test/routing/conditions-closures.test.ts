/**
 * The condition cases of conditions.test.ts once more, with tables compiled
 * to closures instead of generated code: the two forms must decide alike.
 */
import t from "tap";

process.env.GRAYGATE_TEST_CODEGEN = "0";
const { CODEGEN } = await import("./helpers.ts");
t.equal(CODEGEN, false, "the tables below are compiled without generated code");
await import("./conditions.test.ts");
