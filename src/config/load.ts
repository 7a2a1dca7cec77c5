/**
 * YAML text → a validated `Config`, or every problem in it, each located at
 * FILE:LINE:COL. Nothing here touches the running proxy: a reload calls this,
 * and only a good result replaces anything.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from "yaml";
import type { z } from "zod";
import { crosscheck, isRecord } from "./crosscheck.ts";
import { type Environment, interpolate } from "./interpolate.ts";
import { formatPath, type PathSegment, type Problem, sortProblems } from "./problems.ts";
import { type Config, configSchema } from "./schema.ts";

export interface LoadedConfig {
  config: Config;
  /** The file as given on the command line or in the watcher. */
  file: string;
  /** sha256 of the file's (UTF-8) bytes, hex: what `graygate_config_info` and `/config` show. */
  hash: string;
  /** The file's text: what the primary sends its workers. */
  text: string;
  /** The document after `${VAR}` interpolation, before defaults. */
  written: unknown;
  /** The document as written, `${VAR}` references not expanded: safe to show. */
  source: unknown;
}

export type LoadResult =
  | { ok: true; loaded: LoadedConfig }
  /** `hash` is the content's, when the file could be read. */
  | { ok: false; problems: Problem[]; hash?: string };

/** The sha256 of a config's text, or of its bytes: the same for UTF-8 text. */
export function hashText(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Reads and loads a file; an unreadable file is one problem at 1:1. */
export async function loadConfigFile(
  file: string,
  env: Environment = process.env,
): Promise<LoadResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    return {
      ok: false,
      problems: [
        { file, line: 1, col: 1, path: "(file)", message: `cannot read the file (${reason})` },
      ],
    };
  }
  return loadConfigBytes(bytes, file, env);
}

/** Loads a file's bytes, already read. */
export function loadConfigBytes(
  bytes: Uint8Array,
  file: string,
  env: Environment = process.env,
): LoadResult {
  let text: string;
  try {
    // Fatal: a file that is not UTF-8 is refused rather than silently altered.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return {
      ok: false,
      problems: [{ file, line: 1, col: 1, path: "(file)", message: "is not UTF-8 text" }],
      hash: hashText(bytes),
    };
  }
  return loadConfigText(text, file, env);
}

export function loadConfigText(
  text: string,
  file: string,
  env: Environment = process.env,
): LoadResult {
  const result = loadText(text, file, env);
  return result.ok ? result : { ...result, hash: hashText(text) };
}

function loadText(text: string, file: string, env: Environment): LoadResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  const problems: Problem[] = [];

  let fatal = false;
  for (const error of doc.errors) {
    const offset = error.pos[0];
    if (error.code === "DUPLICATE_KEY") {
      const path = pathAtOffset(doc, offset);
      const key = path.at(-1);
      const message =
        key === undefined ? "duplicate key" : `duplicate key "${key}": each key may appear once`;
      problems.push({ ...at(offset), path: formatPath(path), message });
    } else {
      fatal = true;
      const where = syntaxErrorOffset(text, offset, error.message);
      problems.push({
        ...at(where),
        path: formatPath(pathAtOffset(doc, where)),
        message: yamlMessage(error.message),
      });
    }
  }
  if (fatal) return { ok: false, problems: sortProblems(problems) };

  let source: unknown;
  try {
    source = doc.toJS({ maxAliasCount: 100 });
  } catch {
    source = undefined; // reported below, by the same call after interpolation
  }
  // ${VAR} in string values; keys are left as written.
  visit(doc, {
    Scalar(key, node) {
      if (key === "key" || typeof node.value !== "string") return;
      const { value, errors } = interpolate(node.value, env);
      node.value = value;
      for (const message of errors) {
        problems.push({
          ...at(node.range?.[0] ?? 0),
          path: formatPath(pathAtOffset(doc, node.range?.[0] ?? 0)),
          message,
        });
      }
    },
  });

  let written: unknown;
  try {
    written = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    problems.push({ ...at(0), path: "(root)", message: yamlMessage((error as Error).message) });
    return { ok: false, problems: sortProblems(problems) };
  }
  if (typeof written !== "object" || written === null || Array.isArray(written)) {
    const offset = doc.contents?.range?.[0] ?? 0;
    problems.push({
      ...at(offset),
      path: "(root)",
      message:
        written === null || written === undefined
          ? "the file is empty: a config is a mapping with upstreams and routes"
          : "must be a mapping with upstreams and routes",
    });
    return { ok: false, problems: sortProblems(problems) };
  }

  const parsed = configSchema.safeParse(written, { reportInput: true });
  if (!parsed.success) {
    for (const issue of flattenIssues(parsed.error.issues, [])) {
      problems.push(...issueProblems(issue, doc, at));
    }
  }
  for (const cross of crosscheck(written)) {
    const offset = offsetOf(doc, cross.path, cross.atKey === true);
    problems.push({ ...at(offset), path: formatPath(cross.path), message: cross.message });
  }

  if (problems.length > 0 || !parsed.success) {
    return { ok: false, problems: sortProblems(problems) };
  }
  return {
    ok: true,
    loaded: { config: parsed.data, file, hash: hashText(text), text, written, source },
  };
}

/**
 * Where to point for a YAML syntax error: the parser reports some at the
 * start of a line (bad indentation: move to the first character) or at the
 * end of the file (an unclosed `{` or `[`: move to the bracket).
 */
function syntaxErrorOffset(text: string, offset: number, message: string): number {
  const unclosed = /^Flow (map|sequence)/.exec(message);
  if (unclosed !== null) {
    const open = unclosed[1] === "map" ? "{" : "[";
    const start = lastUnclosed(text, offset, open);
    if (start !== -1) return start;
  }
  let where = offset;
  while (where < text.length && text[where] === " ") where++;
  return where < text.length && text[where] !== "\n" ? where : offset;
}

/** The offset of the last `open` bracket before `end` that no bracket closes (quotes and comments skipped). */
function lastUnclosed(text: string, end: number, open: string): number {
  const stack: { char: string; at: number }[] = [];
  let quote = "";
  for (let i = 0; i < end; i++) {
    const c = text[i] as string;
    if (quote !== "") {
      if (c === quote) quote = "";
      else if (c === "\\" && quote === '"') i++;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(text[i - 1] as string))) {
      while (i < end && text[i] !== "\n") i++;
    } else if (c === "{" || c === "[") {
      stack.push({ char: c, at: i });
    } else if (c === "}" || c === "]") {
      stack.pop();
    }
  }
  for (let i = stack.length - 1; i >= 0; i--)
    if (stack[i]?.char === open) return stack[i]?.at as number;
  return -1;
}

function yamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return `not valid YAML: ${first.replace(/ at line \d+, column \d+:?$/, "")}`;
}

type Issue = z.core.$ZodIssue;

/**
 * A union that failed reports one issue per branch; when exactly the branch
 * the author meant can be told (its issues are all below the union, not
 * missing keys), report those, else the union's own message.
 */
function flattenIssues(issues: readonly Issue[], prefix: PathSegment[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const meant = issue.errors.find(
        (branch) =>
          branch.length > 0 &&
          branch.every(
            (inner) =>
              inner.path.length > 0 &&
              !(inner.code === "invalid_type" && inner.input === undefined) &&
              inner.code !== "unrecognized_keys",
          ),
      );
      if (meant !== undefined) {
        out.push(...flattenIssues(meant, path));
        continue;
      }
    }
    out.push({ ...issue, path } as Issue);
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function issueProblems(
  issue: Issue,
  doc: Document,
  at: (offset: number) => Omit<Problem, "path" | "message">,
): Problem[] {
  const path = issue.path as PathSegment[];
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const keyPath = [...path, key];
      const known = knownKeys(path);
      const hint = suggestion(key, known);
      return {
        ...at(offsetOf(doc, keyPath, true)),
        path: formatPath(keyPath),
        message: `unknown key "${key}"${hint}`,
      };
    });
  }
  let message = issue.message;
  if (issue.code === "invalid_union" && isRecord(issue.input)) {
    // A mapping that fits no branch: most often a misspelt key, so name it.
    const known = knownKeys(path);
    const stray = Object.keys(issue.input).filter((key) => !known.includes(key));
    if (known.length > 0 && stray.length > 0) {
      return stray.map((key) => ({
        ...at(offsetOf(doc, [...path, key], true)),
        path: formatPath([...path, key]),
        message: `unknown key "${key}"${suggestion(key, known)}`,
      }));
    }
  }
  if (issue.code === "invalid_type") {
    if (issue.input === undefined) message = "is required";
    else if (/^Invalid input/.test(message))
      message = `must be ${article(issue.expected)} (got ${describe(issue.input)})`;
  } else if (issue.code === "too_small" && /^Too small/.test(message)) {
    message =
      issue.origin === "array"
        ? `must list at least ${issue.minimum}`
        : `must be at least ${issue.minimum}`;
  } else if (issue.code === "too_big" && /^Too big/.test(message)) {
    message =
      issue.origin === "array"
        ? `must list at most ${issue.maximum}`
        : `must be at most ${issue.maximum}`;
  } else if (issue.code === "invalid_key") {
    return [
      {
        ...at(offsetOf(doc, path, true)),
        path: formatPath(path),
        message: `bad key: ${issue.issues[0]?.message ?? message}`,
      },
    ];
  } else if (/^Invalid/.test(message) && issue.input !== undefined) {
    message = `is not valid here (got ${describe(issue.input)})`;
  }
  return [{ ...at(offsetOf(doc, path, false)), path: formatPath(path), message }];
}

function article(expected: string): string {
  const names: Record<string, string> = {
    object: "a mapping",
    array: "a list",
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
  };
  return names[expected] ?? expected;
}

/** Where a path points: its value (or its key), else the nearest node that exists. */
function offsetOf(doc: Document, path: readonly PathSegment[], atKey: boolean): number {
  let node: unknown = doc.contents;
  let best = doc.contents?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const segment = path[i];
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isScalar(p.key) && String(p.key.value) === String(segment),
      );
      if (pair === undefined) return best;
      const keyOffset = (pair.key as Node).range?.[0] ?? best;
      const last = i === path.length - 1;
      const value = pair.value as Node | null;
      if (last && atKey) return keyOffset;
      best = value?.range?.[0] ?? keyOffset;
      if (value === null) return keyOffset;
      node = value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined;
      if (item === undefined) return best;
      best = item.range?.[0] ?? best;
      node = item;
    } else {
      return best;
    }
  }
  return best;
}

/** The document path of the innermost node that spans `offset`. */
function pathAtOffset(doc: Document, offset: number): PathSegment[] {
  const path: PathSegment[] = [];
  let node: unknown = doc.contents;
  const spans = (n: unknown) => {
    const range = (n as Node | null)?.range;
    // End-exclusive: a block collection ends exactly where its next sibling key starts.
    return range !== undefined && range !== null && offset >= range[0] && offset < range[2];
  };
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (spans(p.key) || spans(p.value)));
      if (pair === undefined || !isScalar(pair.key)) return path;
      path.push(String(pair.key.value));
      if (spans(pair.key) && !spans(pair.value)) return path;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => spans(item));
      if (index === -1) return path;
      path.push(index);
      node = node.items[index];
    } else {
      return path;
    }
  }
}

interface ZodDefLike {
  type: string;
  shape?: Record<string, unknown>;
  element?: unknown;
  valueType?: unknown;
  innerType?: unknown;
  in?: unknown;
  options?: unknown[];
  getter?: () => unknown;
}

function defOf(schema: unknown): ZodDefLike | undefined {
  return (schema as { _zod?: { def?: ZodDefLike } })?._zod?.def;
}

/** The object schemas a path can lead to; used for "did you mean" on unknown keys. */
function knownKeys(path: readonly PathSegment[]): string[] {
  let schemas: unknown[] = [configSchema];
  const unwrap = (schema: unknown): unknown[] => {
    const def = defOf(schema);
    if (def === undefined) return [];
    switch (def.type) {
      case "optional":
      case "default":
      case "prefault":
      case "nullable":
        return unwrap(def.innerType);
      case "pipe":
        return unwrap(def.in);
      case "lazy":
        return def.getter ? unwrap(def.getter()) : [];
      case "union":
        return (def.options ?? []).flatMap(unwrap);
      default:
        return [schema];
    }
  };
  for (const segment of path) {
    schemas = schemas.flatMap(unwrap).flatMap((schema) => {
      const def = defOf(schema);
      if (def?.type === "object" && typeof segment === "string") return def.shape?.[segment] ?? [];
      if (def?.type === "array" && typeof segment === "number") return [def.element];
      if (def?.type === "record") return [def.valueType];
      return [];
    });
  }
  return schemas
    .flatMap(unwrap)
    .flatMap((schema) =>
      defOf(schema)?.type === "object" ? Object.keys(defOf(schema)?.shape ?? {}) : [],
    );
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        previous + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] as number;
}

function suggestion(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of new Set(known)) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3))) {
    return ` (did you mean "${best}"?)`;
  }
  return known.length > 0 && known.length <= 12
    ? ` (expected one of: ${[...new Set(known)].join(", ")})`
    : "";
}
