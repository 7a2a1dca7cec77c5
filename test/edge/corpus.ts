/**
 * The request-smuggling corpus: malformed, ambiguous and borderline requests
 * taken from public smuggling tools, parser test suites and the
 * discrepancies they found, each with the answer graygate owes it. Every
 * request is complete on its own (for at least one reading of its framing),
 * so that a test can put a good request before it and another after it on
 * one connection and see which of them reach an upstream.
 */

/** One request of the smuggling corpus: raw bytes and what graygate must do with them. */
export interface CorpusCase {
  /** Unique, short: "TE with a vertical tab". */
  name: string;
  /** The class (documented in docs/SECURITY.md). */
  class:
    | "cl-te"
    | "te"
    | "cl"
    | "chunked"
    | "header-syntax"
    | "line-endings"
    | "request-line"
    | "host"
    | "duplicate-field"
    | "expect"
    | "upgrade"
    | "limits";
  /** Where the case comes from: "smuggler configs/default.py", "llhttp test/request/invalid.md", "http-garden", … */
  source: string;
  /** The raw request, as latin1 (any byte); a complete request. */
  bytes: string;
  /**
   * What graygate must answer: a status it refuses with (400, 405, 413, 417, 431, 505), never forwarding
   * it or anything after it on the connection; or "forward" for a well-formed request that is forwarded
   * (re-framed) and after which the connection stays usable.
   */
  expect: number | "forward";
}

const SMUGGLER = "smuggler configs/default.py";
const SMUGGLER_EXHAUSTIVE = "smuggler configs/exhaustive.py";
const DESYNC = "http-request-smuggler src/burp/DesyncBox.java";
const GARDEN = "http-garden TROPHIES.md";
const LLHTTP_INVALID = "llhttp test/request/invalid.md";
const LLHTTP_TE = "llhttp test/request/transfer-encoding.md";
const LLHTTP_CL = "llhttp test/request/content-length.md";
const LLHTTP_SAMPLE = "llhttp test/request/sample.md";
const LLHTTP_URI = "llhttp test/request/uri.md";
const LLHTTP_METHOD = "llhttp test/request/method.md";
const RFC9112 = "RFC 9112";
const RFC9110 = "RFC 9110";
const RFC6585 = "RFC 6585";

/** A request line for `path` and `Host: api.test`; the rest of the head is the case's. */
const request = (method: string, path: string, version = "HTTP/1.1") =>
  `${method} ${path} ${version}\r\nHost: api.test\r\n`;
const get = (path: string) => request("GET", path);
const post = (path: string) => request("POST", path);
/** A chunked POST's head, its body to follow. */
const chunked = (path: string) => `${post(path)}Transfer-Encoding: chunked\r\n\r\n`;
/** The chunked body "ab". */
const AB = "2\r\nab\r\n0\r\n\r\n";
/** The last chunk alone: five bytes, so that `Content-Length: 5` frames it too. */
const LAST = "0\r\n\r\n";
/** The start of a request that a desynchronised server would prefix to the next one. */
const PREFIX = "GET /clte/prefixed HTTP/1.1\r\nX-Ignore: X";

/** A POST whose head has `field` (one line, or several) and both framings of LAST. */
const clte = (path: string, field: string) =>
  `${post(path)}Content-Length: 5\r\n${field}\r\n\r\n${LAST}`;
/** A POST framed by `field` alone (a Transfer-Encoding spelling), its body chunked. */
const te = (path: string, field: string) => `${post(path)}${field}\r\n\r\n${AB}`;

/**
 * smuggler's exhaustive mutations: a byte before the name, before the
 * colon, after the colon and after the value of `Transfer-Encoding: chunked`.
 * Tab and space are optional whitespace after the colon and so left out.
 */
const TE_BYTES: readonly [string, string][] = [
  ["VT", "\x0b"],
  ["0xA0", "\xa0"],
];
const TE_SPOTS: readonly [string, (byte: string) => string][] = [
  ["before the name", (byte) => `${byte}Transfer-Encoding: chunked`],
  ["before the colon", (byte) => `Transfer-Encoding${byte}: chunked`],
  ["after the colon", (byte) => `Transfer-Encoding:${byte}chunked`],
  ["after the value", (byte) => `Transfer-Encoding: chunked${byte}`],
];
const TE_MUTATIONS: CorpusCase[] = TE_BYTES.flatMap(([what, byte], b) =>
  TE_SPOTS.map(
    ([where, field], s): CorpusCase => ({
      name: `TE with ${what} ${where}`,
      class: "te",
      source: SMUGGLER_EXHAUSTIVE,
      bytes: te(`/te/byte-${b}-${s}`, field(byte)),
      expect: 400,
    }),
  ),
);

/** `count` header fields (Host among them), each `X-Hn: v`. */
const fields = (path: string, count: number) =>
  `${get(path)}${Array.from({ length: count - 1 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`;

export const CORPUS: readonly CorpusCase[] = [
  // Content-Length and Transfer-Encoding together: whichever spelling, one of them is a lie.
  {
    name: "CL then TE",
    class: "cl-te",
    source: SMUGGLER,
    bytes: clte("/clte/vanilla", "Transfer-Encoding: chunked"),
    expect: 400,
  },
  {
    name: "TE then CL",
    class: "cl-te",
    source: GARDEN,
    bytes: `${post("/clte/te-first")}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n${LAST}`,
    expect: 400,
  },
  {
    name: "CL.TE with a request prefix in the body",
    class: "cl-te",
    source: "http-request-smuggler resources/CL-TE.py",
    bytes: `${post("/clte/prefix")}Content-Length: ${LAST.length + PREFIX.length}\r\nTransfer-Encoding: chunked\r\n\r\n${LAST}${PREFIX}`,
    expect: 400,
  },
  {
    name: "TE.CL with a request in a chunk",
    class: "cl-te",
    source: "http-request-smuggler resources/TE-CL.py",
    bytes: `${post("/clte/te-cl")}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n${(
      `${PREFIX}\r\n\r\n`.length
    ).toString(16)}\r\n${PREFIX}\r\n\r\n\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "CL with TE on GET",
    class: "cl-te",
    source: GARDEN,
    bytes: `${get("/clte/get")}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n${LAST}`,
    expect: 400,
  },
  {
    name: "CL with TE after a tab",
    class: "cl-te",
    source: SMUGGLER,
    bytes: clte("/clte/tab", "Transfer-Encoding:\tchunked"),
    expect: 400,
  },
  {
    name: "CL with TE, a space before the colon",
    class: "cl-te",
    source: SMUGGLER,
    bytes: clte("/clte/space", "Transfer-Encoding : chunked"),
    expect: 400,
  },
  {
    name: "CL with TE in capitals",
    class: "cl-te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: clte("/clte/yelling", "TRANSFER-ENCODING: CHUNKED"),
    expect: 400,
  },
  {
    name: "CL with TE after a vertical tab",
    class: "cl-te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: clte("/clte/vt", "Transfer-Encoding:\x0bchunked"),
    expect: 400,
  },
  {
    name: "CL with TE chunked, identity",
    class: "cl-te",
    source: DESYNC,
    bytes: clte("/clte/comma-cow", "Transfer-Encoding: chunked, identity"),
    expect: 400,
  },
  {
    name: "CL with TE identity",
    class: "cl-te",
    source: LLHTTP_CL,
    bytes: clte("/clte/identity", "Transfer-Encoding: identity"),
    expect: 400,
  },
  {
    name: "CL with empty TEs",
    class: "cl-te",
    source: LLHTTP_TE,
    bytes: clte("/clte/empty", "Transfer-Encoding:\r\nTransfer-Encoding:\r\nTransfer-Encoding:"),
    expect: 400,
  },
  {
    name: "CL with TE ,chunked",
    class: "cl-te",
    source: GARDEN,
    bytes: clte("/clte/lead-comma", "Transfer-Encoding: ,chunked"),
    expect: 400,
  },
  {
    name: "CL with TE folded into the previous field",
    class: "cl-te",
    source: DESYNC,
    bytes: clte("/clte/nameprefix", "Foo: bar\r\n Transfer-Encoding: chunked"),
    expect: 400,
  },
  {
    name: "CL with Transfer_Encoding",
    class: "cl-te",
    source: DESYNC,
    bytes: clte("/clte/underjoin", "Transfer_Encoding: chunked"),
    expect: 400,
  },
  {
    name: "CL with Transfer Encoding",
    class: "cl-te",
    source: DESYNC,
    bytes: clte("/clte/spacejoin", "Transfer Encoding: chunked"),
    expect: 400,
  },
  {
    name: "CL with TE named by Connection",
    class: "cl-te",
    source: DESYNC,
    bytes: clte("/clte/connection", "Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked"),
    expect: 400,
  },
  {
    name: "CL with TE in HTTP/1.0",
    class: "cl-te",
    source: DESYNC,
    bytes: `${request("POST", "/clte/http10", "HTTP/1.0")}Connection: keep-alive\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${LAST}`,
    expect: 400,
  },
  {
    name: "TE with Content_Length",
    class: "cl-te",
    source: DESYNC,
    bytes: `${post("/clte/cl-under")}Transfer-Encoding: chunked\r\nContent_Length: 5\r\n\r\n${LAST}`,
    expect: 400,
  },
  // Not Transfer-Encoding at all: only Content-Length frames these.
  {
    name: "CL with Content-Encoding: chunked",
    class: "cl-te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: clte("/clte/content-enc", "Content-Encoding: chunked"),
    expect: "forward",
  },
  {
    name: "CL with a percent-encoded TE name",
    class: "cl-te",
    source: DESYNC,
    bytes: clte("/clte/encoded", "Transfer-%45ncoding: chunked"),
    expect: "forward",
  },

  // Transfer-Encoding alone: only a final `chunked`, in any case and with optional whitespace, frames a body.
  ...TE_MUTATIONS,
  {
    name: "TE in capitals",
    class: "te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: te("/te/capitals", "Transfer-Encoding: CHUNKED"),
    expect: "forward",
  },
  {
    name: "TE in mixed case",
    class: "te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: te("/te/sarcasm", "TrAnSFer-EnCODinG: cHuNkeD"),
    expect: "forward",
  },
  {
    name: "TE after a tab",
    class: "te",
    source: SMUGGLER,
    bytes: te("/te/tab", "Transfer-Encoding:\tchunked"),
    expect: "forward",
  },
  {
    name: "TE with a trailing tab",
    class: "te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: te("/te/tab-suffix", "Transfer-Encoding: chunked\t"),
    expect: 400,
  },
  {
    name: "TE with a trailing space",
    class: "te",
    source: LLHTTP_TE,
    bytes: te("/te/space-suffix", "Transfer-Encoding: chunked "),
    expect: "forward",
  },
  {
    name: "TE without a space",
    class: "te",
    source: DESYNC,
    bytes: te("/te/nospace", "Transfer-Encoding:chunked"),
    expect: "forward",
  },
  {
    name: "TE named by Connection",
    class: "te",
    source: DESYNC,
    bytes: te("/te/connection", "Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked"),
    expect: "forward",
  },
  {
    name: "TE on GET",
    class: "te",
    source: RFC9112,
    bytes: `${get("/te/get")}Transfer-Encoding: chunked\r\n\r\n${AB}`,
    expect: "forward",
  },
  {
    name: "TE with a trailing NUL",
    class: "te",
    source: GARDEN,
    bytes: te("/te/nul", "Transfer-Encoding: chunked\x00"),
    expect: 400,
  },
  {
    name: "TE with a trailing CR",
    class: "te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: te("/te/cr-suffix", "Transfer-Encoding: chunked\r"),
    expect: 400,
  },
  {
    name: "TE with a CR in the name",
    class: "te",
    source: DESYNC,
    bytes: te("/te/cr-name", "Tra\rnsfer-Encoding: chunked"),
    expect: 400,
  },
  {
    name: "TE chunked, identity",
    class: "te",
    source: DESYNC,
    bytes: te("/te/comma-cow", "Transfer-Encoding: chunked, identity"),
    expect: 400,
  },
  {
    name: "TE identity, chunked",
    class: "te",
    source: DESYNC,
    bytes: te("/te/cow-comma", "Transfer-Encoding: identity, chunked"),
    expect: 400,
  },
  {
    name: "TE gzip, chunked",
    class: "te",
    source: LLHTTP_TE,
    bytes: te("/te/gzip", "Transfer-Encoding: gzip, chunked"),
    expect: 400,
  },
  {
    name: "TE chunked, chunked",
    class: "te",
    source: GARDEN,
    bytes: te("/te/chunked-twice", "Transfer-Encoding: chunked, chunked"),
    expect: 400,
  },
  {
    name: "TE twice",
    class: "te",
    source: GARDEN,
    bytes: te("/te/dual", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"),
    expect: 400,
  },
  {
    name: "TE chunked, then TE chunked-false",
    class: "te",
    source: "node test/parallel/test-http-transfer-encoding-smuggling.js",
    bytes: te("/te/false", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked-false"),
    expect: 400,
  },
  {
    name: "TE ,chunked",
    class: "te",
    source: GARDEN,
    bytes: te("/te/lead-comma", "Transfer-Encoding: ,chunked"),
    expect: 400,
  },
  {
    name: "TE eee, chunked",
    class: "te",
    source: "node test/parallel/test-http-invalid-te.js",
    bytes: te("/te/eee", "Transfer-Encoding: eee, chunked"),
    expect: 400,
  },
  {
    name: "TE quoted",
    class: "te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: te("/te/quoted", 'Transfer-Encoding: "chunked"'),
    expect: 400,
  },
  {
    name: "TE xchunked",
    class: "te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: te("/te/xchunked", "Transfer-Encoding: xchunked"),
    expect: 400,
  },
  {
    name: "TE identity",
    class: "te",
    source: LLHTTP_TE,
    bytes: `${post("/te/identity")}Transfer-Encoding: identity\r\n\r\n`,
    expect: 400,
  },
  {
    name: "TE empty",
    class: "te",
    source: LLHTTP_TE,
    bytes: `${post("/te/empty")}Transfer-Encoding:\r\n\r\n`,
    expect: 400,
  },
  {
    name: "TE obs-fold",
    class: "te",
    source: DESYNC,
    bytes: te("/te/obs-fold", "Transfer-Encoding:\r\n chunked"),
    expect: 400,
  },
  {
    name: "TE folded with a bare LF",
    class: "te",
    source: SMUGGLER_EXHAUSTIVE,
    bytes: te("/te/lf-fold", "Transfer-Encoding:\n chunked"),
    expect: 400,
  },
  {
    name: "TE in HTTP/1.0",
    class: "te",
    source: DESYNC,
    bytes: `${request("POST", "/te/http10", "HTTP/1.0")}Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n${AB}`,
    expect: 400,
  },

  // Content-Length: 1*DIGIT, once. Leading zeros and surrounding whitespace are still that.
  {
    name: "CL with a plus sign",
    class: "cl",
    source: DESYNC,
    bytes: `${post("/cl/plus")}Content-Length: +4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "CL negative",
    class: "cl",
    source: DESYNC,
    bytes: `${post("/cl/minus")}Content-Length: -4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "CL in hex",
    class: "cl",
    source: GARDEN,
    bytes: `${post("/cl/hex")}Content-Length: 0x4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "CL with a trailing letter",
    class: "cl",
    source: GARDEN,
    bytes: `${post("/cl/suffix")}Content-Length: 1Z\r\n\r\nZ`,
    expect: 400,
  },
  {
    name: "CL with a space between digits",
    class: "cl",
    source: LLHTTP_CL,
    bytes: `${post("/cl/inner-space")}Content-Length: 0 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "CL list of equal values",
    class: "cl",
    source: RFC9110,
    bytes: `${post("/cl/list")}Content-Length: 4, 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "CL list led by 0",
    class: "cl",
    source: DESYNC,
    bytes: `${post("/cl/comma-prefix")}Content-Length: 0, 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "CL empty",
    class: "cl",
    source: GARDEN,
    bytes: `${post("/cl/empty")}Content-Length: \r\n\r\n`,
    expect: 400,
  },
  {
    name: "CL empty, then CL",
    class: "cl",
    source: GARDEN,
    bytes: `${post("/cl/empty-first")}Content-Length: \r\nContent-Length: 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "two different CLs",
    class: "cl",
    source: GARDEN,
    bytes: `${post("/cl/two")}Content-Length: 1\r\nContent-Length: 0\r\n\r\nZ`,
    expect: 400,
  },
  {
    name: "CL of 2^64",
    class: "cl",
    source: LLHTTP_CL,
    bytes: `${post("/cl/2-64")}Content-Length: 18446744073709551616\r\n\r\n`,
    expect: 400,
  },
  {
    name: "CL with NEL before the colon",
    class: "cl",
    source: GARDEN,
    bytes: `${post("/cl/nel")}Content-Length\x85: 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "CL with a space before the colon",
    class: "cl",
    source: GARDEN,
    bytes: `${post("/cl/space")}Content-Length : 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "CL without a colon",
    class: "cl",
    source: GARDEN,
    bytes: `${post("/cl/no-colon")}Content-Length 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "CL with a CR for the dash",
    class: "cl",
    source: LLHTTP_CL,
    bytes: `${post("/cl/cr-dash")}Content\rLength: 3\r\n\r\nabc`,
    expect: 400,
  },
  {
    name: "CL on a tab-led first line",
    class: "cl",
    source: GARDEN,
    bytes: "POST /cl/tab-first HTTP/1.1\r\n\tContent-Length: 1\r\nHost: api.test\r\n\r\nX",
    expect: 400,
  },
  {
    name: "CL with leading zeros",
    class: "cl",
    source: LLHTTP_CL,
    bytes: `${post("/cl/zeros")}Content-Length: 004\r\n\r\nabcd`,
    expect: "forward",
  },
  {
    name: "CL 010 is ten, not eight",
    class: "cl",
    source: GARDEN,
    bytes: `${post("/cl/octal")}Content-Length: 010\r\n\r\n0123456789`,
    expect: "forward",
  },
  {
    name: "CL between tabs",
    class: "cl",
    source: LLHTTP_CL,
    bytes: `${post("/cl/tabs")}Content-Length:\t4\t \r\n\r\nabcd`,
    expect: "forward",
  },
  {
    name: "a body on GET",
    class: "cl",
    source: GARDEN,
    bytes: `${get("/cl/get")}Content-Length: 3\r\n\r\nabc`,
    expect: "forward",
  },
  {
    name: "CL named by Connection",
    class: "cl",
    source: DESYNC,
    bytes: `${post("/cl/connection")}Connection: keep-alive, Content-Length\r\nContent-Length: 4\r\n\r\nabcd`,
    expect: "forward",
  },

  // Chunked bodies: hex sizes, `;` extensions, CRLF after each size and each chunk's data.
  {
    name: "chunk-size overflow",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/overflow")}FFFFFFFFFFFFFFFFF1\r\nab\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "negative chunk size",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/negative")}-2\r\nab\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "chunk size with 0x",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/0x")}0x2\r\nab\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "chunk size with a digit separator",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/underscore")}0_2\r\nab\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "chunk size not hex",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/not-hex")}Z\r\nZZ\r\nZZZ\r\n\r\n`,
    expect: 400,
  },
  {
    name: "empty chunk size",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/empty")}\r\n\r\n`,
    expect: 400,
  },
  {
    name: "chunk size after spaces",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/lead-space")}   0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "space after the chunk size",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/trail-space")}2 \r\nab\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "extension without a semicolon",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/no-semicolon")}2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n`,
    expect: 400,
  },
  {
    name: "semicolon without an extension",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/bare-semicolon")}2;\r\naa\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "unbalanced quote in an extension",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/unbalanced")}2;a="b; c\r\nab\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "NUL in an extension",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/ext-nul")}2;a\x00=b\r\nab\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "bare CR before an extension",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/cr-ext")}2\r\r;a\r\nab\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "bare LF after the chunk size",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/size-lf")}2\nab\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "bare LF after an extension",
    class: "chunked",
    source: "node test/parallel/test-http-chunked-smuggling.js",
    bytes: `${chunked("/chunked/ext-lf")}2;\nxx\r\n4c\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "chunk data without its CRLF",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/data-no-crlf")}2\r\nabX0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "chunk data ended by a bare LF",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/data-lf")}a\r\n0123456789\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "an extra CRLF before the last chunk",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/extra-crlf")}2\r\nab\r\n\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "missing last chunk",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/no-last")}3\r\nfoo\r\n\r\n`,
    expect: 400,
  },
  {
    name: "trailer without a colon",
    class: "chunked",
    source: RFC9112,
    bytes: `${chunked("/chunked/trailer-no-colon")}2\r\nab\r\n0\r\nX-Checksum 1\r\n\r\n`,
    expect: 400,
  },
  {
    name: "oversized chunk extensions",
    class: "chunked",
    source: "node test/parallel/test-http-chunk-extensions-limit.js",
    bytes: `${chunked("/chunked/ext-huge")}2;${"a".repeat(17_000)}\r\nab\r\n0\r\n\r\n`,
    expect: 413,
  },
  {
    name: "10 KiB of extensions on each of three chunks",
    class: "chunked",
    source: "node test/parallel/test-http-chunk-extensions-limit.js",
    bytes: `${chunked("/chunked/ext-each")}${`2;${"A".repeat(10_000)}=bar\r\nAA\r\n`.repeat(3)}0\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "a small chunk extension",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/ext")}2;name=value\r\nab\r\n0\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "quoted chunk extensions",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/ext-quoted")}5;ilovew3="I \\"love\\"; \\\\extensions\\\\";somuchlove="aretheseparametersfor";blah;foo=bar\r\nhello\r\n0\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "a trailer field",
    class: "chunked",
    source: LLHTTP_TE,
    bytes: `${chunked("/chunked/trailer")}2\r\nab\r\n0\r\nX-Checksum: 1\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "a trailer that reads like a request line",
    class: "chunked",
    source: GARDEN,
    bytes: `${chunked("/chunked/trailer-request")}2\r\nab\r\n0\r\nX:POST /chunked/in-trailer HTTP/1.1\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "Content-Length as a trailer",
    class: "chunked",
    source: RFC9112,
    bytes: `${chunked("/chunked/trailer-cl")}2\r\nab\r\n0\r\nContent-Length: 5\r\n\r\n`,
    expect: 400,
  },

  // Field syntax: a token, a colon right after it, a value of visible bytes, spaces and tabs.
  {
    name: "space before the colon",
    class: "header-syntax",
    source: GARDEN,
    bytes: `${get("/hs/space-colon")}X-Note : a\r\n\r\n`,
    expect: 400,
  },
  {
    name: "header without a colon",
    class: "header-syntax",
    source: GARDEN,
    bytes: `${get("/hs/no-colon")}X-Note\r\n\r\n`,
    expect: 400,
  },
  {
    name: "empty header name",
    class: "header-syntax",
    source: LLHTTP_INVALID,
    bytes: `${get("/hs/empty-name")}: a\r\n\r\n`,
    expect: 400,
  },
  {
    name: "empty header name before Host",
    class: "header-syntax",
    source: GARDEN,
    bytes: "GET /hs/empty-first HTTP/1.1\r\n: ignored\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "@ in a name",
    class: "header-syntax",
    source: LLHTTP_INVALID,
    bytes: `${get("/hs/at")}Fo@: Failure\r\n\r\n`,
    expect: 400,
  },
  {
    name: "NUL in a name",
    class: "header-syntax",
    source: GARDEN,
    bytes: `${get("/hs/name-nul")}X\x00Note: a\r\n\r\n`,
    expect: 400,
  },
  {
    name: "non-ASCII in a name",
    class: "header-syntax",
    source: GARDEN,
    bytes: `${get("/hs/name-8bit")}\xefoo: bar\r\n\r\n`,
    expect: 400,
  },
  {
    name: "a name continued on the next line",
    class: "header-syntax",
    source: GARDEN,
    bytes: `${post("/hs/name-split")}Transfer-\r\nEncoding: chunked\r\nContent-Length: 5\r\n\r\n${LAST}`,
    expect: 400,
  },
  {
    name: "a name folded before its colon",
    class: "header-syntax",
    source: LLHTTP_INVALID,
    bytes: `${get("/hs/name-fold")}name\r\n : value\r\n\r\n`,
    expect: 400,
  },
  {
    name: "a corrupted Connection name",
    class: "header-syntax",
    source: LLHTTP_INVALID,
    bytes: `${get("/hs/corrupt")}Connection\r\x1b\x35\xd5eep-Alive\r\nAccept-Encoding: gzip\r\n\r\n`,
    expect: 400,
  },
  {
    name: "NUL in a value",
    class: "header-syntax",
    source: GARDEN,
    bytes: `${get("/hs/value-nul")}X-Note: a\x00b\r\n\r\n`,
    expect: 400,
  },
  {
    name: "NUL and CR in a value",
    class: "header-syntax",
    source: GARDEN,
    bytes: `${get("/hs/value-nul-cr")}Header: v\x00\ralue\r\n\r\n`,
    expect: 400,
  },
  {
    name: "control byte in a value",
    class: "header-syntax",
    source: SMUGGLER,
    bytes: `${get("/hs/value-soh")}X-Note: a\x01b\r\n\r\n`,
    expect: 400,
  },
  {
    name: "DEL in a value",
    class: "header-syntax",
    source: SMUGGLER,
    bytes: `${get("/hs/value-del")}X-Note: a\x7fb\r\n\r\n`,
    expect: 400,
  },
  {
    name: "Content_Length",
    class: "header-syntax",
    source: DESYNC,
    bytes: `${post("/hs/content-under")}Content_Length: 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "Transfer_Encoding",
    class: "header-syntax",
    source: DESYNC,
    bytes: `${post("/hs/transfer-under")}Transfer_Encoding: chunked\r\n\r\n${AB}`,
    expect: 400,
  },
  {
    name: "obs-fold in another header",
    class: "header-syntax",
    source: LLHTTP_SAMPLE,
    bytes: `${get("/hs/fold")}X-Note: a\r\n b\r\n\r\n`,
    expect: 400,
  },
  {
    name: "space before the first header",
    class: "header-syntax",
    source: LLHTTP_INVALID,
    bytes: "GET /hs/lead-space HTTP/1.1\r\n Host: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "tab before the first header",
    class: "header-syntax",
    source: GARDEN,
    bytes: "GET /hs/lead-tab HTTP/1.1\r\n\tHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "underscores in other names",
    class: "header-syntax",
    source: "nginx docs, underscores_in_headers",
    bytes: `${get("/hs/underscores")}X_Forwarded_For: 10.9.9.9\r\nX-Custom_Key: k\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "obs-text in a value",
    class: "header-syntax",
    source: LLHTTP_SAMPLE,
    bytes: `${get("/hs/obs-text")}X-Note: caf\xe9\r\n\r\n`,
    expect: "forward",
  },

  // Line endings: CRLF, and nothing else, ends the request line and each field line.
  {
    name: "bare LF line endings",
    class: "line-endings",
    source: GARDEN,
    bytes: "GET /le/lf HTTP/1.1\nHost: api.test\n\n",
    expect: 400,
  },
  {
    name: "only LFs, chunked",
    class: "line-endings",
    source: LLHTTP_INVALID,
    bytes:
      "POST /le/lf-chunked HTTP/1.1\nHost: api.test\nTransfer-Encoding: chunked\n\n1\nA\n0\n\n",
    expect: 400,
  },
  {
    name: "bare LF after the request line",
    class: "line-endings",
    source: RFC9112,
    bytes: "GET /le/line-lf HTTP/1.1\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "bare LF hiding a TE",
    class: "line-endings",
    source: "node test/parallel/test-http-missing-header-separator-cr.js",
    bytes: `${post("/le/lf-te")}x:x\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: "bare LF hiding a CL",
    class: "line-endings",
    source: LLHTTP_INVALID,
    bytes: `${get("/le/lf-cl")}Dummy: x\nContent-Length: 23\r\n\r\nGET / HTTP/1.1\r\nDummy: GET /le/admin HTTP/1.1\r\nHost: api.test\r\n\r\n`,
    expect: 400,
  },
  {
    name: "an empty value, then bare LFs",
    class: "line-endings",
    source: GARDEN,
    bytes: `${get("/le/useless")}Useless:\n\n`,
    expect: 400,
  },
  {
    name: "bare LF between target and version",
    class: "line-endings",
    source: GARDEN,
    bytes: "GET /le/target-lf\nHTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "bare LF ending the head",
    class: "line-endings",
    source: RFC9112,
    bytes: `${get("/le/end-lf")}\n`,
    expect: 400,
  },
  {
    name: "bare CR after the request line",
    class: "line-endings",
    source: LLHTTP_SAMPLE,
    bytes: "GET /le/line-cr HTTP/1.1\rHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "bare CR hiding a CL",
    class: "line-endings",
    source: "node test/parallel/test-http-missing-header-separator-lf.js",
    bytes: `${get("/le/cr-cl")}Dummy: x\rContent-Length: 23\r\n\r\nGET / HTTP/1.1\r\nDummy: GET /le/admin HTTP/1.1\r\nHost: api.test\r\n\r\n`,
    expect: 400,
  },
  {
    name: "bare CR in a value",
    class: "line-endings",
    source: GARDEN,
    bytes: `${get("/le/value-cr")}Header: va\rlue\r\n\r\n`,
    expect: 400,
  },
  {
    name: "CR CR LF after a field",
    class: "line-endings",
    source: "node test/parallel/test-http-server-reject-cr-no-lf.js",
    bytes: `${get("/le/crcrlf")}X-Note: a\r\r\n\r\n`,
    expect: 400,
  },
  {
    name: "CR and a stray byte ending the head",
    class: "line-endings",
    source: GARDEN,
    bytes: `${get("/le/cr-z")}\rZGET /le/evil: HTTP/1.1\r\nHost: api.test\r\n\r\n`,
    expect: 400,
  },
  {
    name: "missing LF before the body",
    class: "line-endings",
    source: LLHTTP_CL,
    bytes: `${post("/le/body-cr")}Content-Length: 3\r\n\rabc`,
    expect: 400,
  },
  {
    name: "an empty line before the request line",
    class: "line-endings",
    source: LLHTTP_SAMPLE,
    bytes: `\r\n${get("/le/lead-crlf")}\r\n`,
    expect: "forward",
  },

  // Request lines: method SP origin-form SP HTTP/1.x, and nothing else.
  {
    name: "unknown method",
    class: "request-line",
    source: RFC9110,
    bytes: "BREW /rl/brew HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "lower-case method",
    class: "request-line",
    source: RFC9110,
    bytes: "get /rl/lower HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "a method with a bad suffix",
    class: "request-line",
    source: LLHTTP_INVALID,
    bytes: "MKCOLA /rl/mkcola HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "a method of separators",
    class: "request-line",
    source: GARDEN,
    bytes: 'G=":<>(e),[T];?" /rl/separators HTTP/1.1\r\nHost: api.test\r\n\r\n',
    expect: 400,
  },
  {
    name: "two spaces after the method",
    class: "request-line",
    source: RFC9112,
    bytes: "GET  /rl/two-spaces HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: "forward",
  },
  {
    name: "a space after the version",
    class: "request-line",
    source: RFC9112,
    bytes: "GET /rl/trail-space HTTP/1.1 \r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "tabs between the parts",
    class: "request-line",
    source: RFC9112,
    bytes: "GET\t/rl/tabs\tHTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "HTTP/0.9",
    class: "request-line",
    source: LLHTTP_SAMPLE,
    bytes: "GET /rl/http09\r\n\r\n",
    expect: 400,
  },
  {
    name: "HTTP/1.2",
    class: "request-line",
    source: RFC9112,
    bytes: "GET /rl/http12 HTTP/1.2\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "HTTP/1.1x",
    class: "request-line",
    source: RFC9112,
    bytes: "GET /rl/http11x HTTP/1.1x\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "an overflowing version",
    class: "request-line",
    source: GARDEN,
    bytes: "GET /rl/version-overflow HTTP/4294967295.255\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "HTTP/2.0 in text",
    class: "request-line",
    source: RFC9110,
    bytes: "GET /rl/http20 HTTP/2.0\r\nHost: api.test\r\n\r\n",
    expect: 505,
  },
  {
    name: "HTTP/3.0 in text",
    class: "request-line",
    source: RFC9110,
    bytes: "GET /rl/http30 HTTP/3.0\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "the HTTP/2 connection preface",
    class: "request-line",
    source: LLHTTP_METHOD,
    bytes: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    expect: 400,
  },
  {
    name: "RTSP/1.0",
    class: "request-line",
    source: LLHTTP_INVALID,
    bytes: "OPTIONS /rl/rtsp RTSP/1.0\r\nHost: api.test\r\n\r\n",
    expect: 505,
  },
  {
    name: "ICE/1.0",
    class: "request-line",
    source: LLHTTP_INVALID,
    bytes: "SOURCE /rl/ice ICE/1.0\r\nHost: api.test\r\n\r\n",
    expect: 505,
  },
  {
    name: "a fragment in the target",
    class: "request-line",
    source: LLHTTP_URI,
    bytes: "GET /rl/fragment#frag HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "asterisk-form",
    class: "request-line",
    source: RFC9112,
    bytes: "OPTIONS * HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "authority-form on GET",
    class: "request-line",
    source: RFC9112,
    bytes: "GET api.test:443 HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "absolute-form naming another host",
    class: "request-line",
    source: RFC9112,
    bytes: "GET http://internal.test/rl/other-host HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "absolute-form naming its Host",
    class: "request-line",
    source: RFC9112,
    bytes: "GET http://api.test/rl/same-host HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: "forward",
  },
  {
    name: "authority-form CONNECT",
    class: "request-line",
    source: LLHTTP_METHOD,
    bytes: "CONNECT internal.test:443 HTTP/1.1\r\nHost: internal.test\r\n\r\n",
    expect: 405,
  },
  {
    name: "CONNECT with a body",
    class: "request-line",
    source: LLHTTP_METHOD,
    bytes: "CONNECT api.test:443 HTTP/1.1\r\nHost: api.test\r\nContent-Length: 4\r\n\r\nabcd",
    expect: 405,
  },
  {
    name: "NUL in the path",
    class: "request-line",
    source: GARDEN,
    bytes: "GET /rl/a\x00b HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "control byte in the path",
    class: "request-line",
    source: RFC9112,
    bytes: "GET /rl/a\x01b HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "space in the path",
    class: "request-line",
    source: LLHTTP_URI,
    bytes: "GET /rl/a b HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "UTF-8 in the path",
    class: "request-line",
    source: LLHTTP_URI,
    bytes: "GET /rl/\xc3\xa4 HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },

  // Host: exactly one, and a host (with an optional port) that agrees with an absolute-form target.
  {
    name: "no Host in HTTP/1.1",
    class: "host",
    source: RFC9112,
    bytes: "GET /host/none HTTP/1.1\r\n\r\n",
    expect: 400,
  },
  {
    name: "two different Hosts",
    class: "host",
    source: RFC9112,
    bytes: "GET /host/two HTTP/1.1\r\nHost: api.test\r\nHost: internal.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "Host with userinfo",
    class: "host",
    source: RFC9112,
    bytes: "GET /host/userinfo HTTP/1.1\r\nHost: user@api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "Host with a path",
    class: "host",
    source: RFC9112,
    bytes: "GET /host/path HTTP/1.1\r\nHost: api.test/x\r\n\r\n",
    expect: 400,
  },
  {
    name: "Host with a space",
    class: "host",
    source: RFC9112,
    bytes: "GET /host/space HTTP/1.1\r\nHost: api .test\r\n\r\n",
    expect: 400,
  },
  {
    name: "Host as a list",
    class: "host",
    source: RFC9112,
    bytes: "GET /host/list HTTP/1.1\r\nHost: api.test, internal.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "Host with a letter port",
    class: "host",
    source: RFC9112,
    bytes: "GET /host/port-letters HTTP/1.1\r\nHost: api.test:80x\r\n\r\n",
    expect: 400,
  },
  {
    name: "Host with a NUL",
    class: "host",
    source: GARDEN,
    bytes: "GET /host/nul HTTP/1.1\r\nHost: api.test\x00.internal.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "absolute-form https naming another host",
    class: "host",
    source: RFC9112,
    bytes: "GET https://internal.test/host/abs HTTP/1.1\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "Host with a port",
    class: "host",
    source: RFC9112,
    bytes: "GET /host/port HTTP/1.1\r\nHost: api.test:8080\r\n\r\n",
    expect: "forward",
  },
  {
    name: "Host with a trailing space",
    class: "host",
    source: RFC9112,
    bytes: "GET /host/trail-space HTTP/1.1\r\nHost: api.test \r\n\r\n",
    expect: "forward",
  },

  // Fields Node keeps one copy of: graygate and an upstream reading another copy would disagree.
  {
    name: "two identical Hosts",
    class: "duplicate-field",
    source: RFC9112,
    bytes: "GET /dup/host HTTP/1.1\r\nHost: api.test\r\nHost: api.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "Host and host",
    class: "duplicate-field",
    source: RFC9112,
    bytes: "GET /dup/host-case HTTP/1.1\r\nHost: api.test\r\nhost: internal.test\r\n\r\n",
    expect: 400,
  },
  {
    name: "two Authorizations",
    class: "duplicate-field",
    source: RFC9110,
    bytes: `${get("/dup/auth")}Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n`,
    expect: 400,
  },
  {
    name: "two identical Authorizations",
    class: "duplicate-field",
    source: RFC9110,
    bytes: `${get("/dup/auth-same")}Authorization: Bearer a\r\nauthorization: Bearer a\r\n\r\n`,
    expect: 400,
  },
  {
    name: "two Proxy-Authorizations",
    class: "duplicate-field",
    source: RFC9110,
    bytes: `${get("/dup/proxy-auth")}Proxy-Authorization: Basic YTpi\r\nProxy-Authorization: Basic Yzpk\r\n\r\n`,
    expect: 400,
  },
  {
    name: "two Content-Types",
    class: "duplicate-field",
    source: RFC9110,
    bytes: `${post("/dup/content-type")}Content-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    expect: 400,
  },
  {
    name: "two identical Content-Lengths",
    class: "duplicate-field",
    source: LLHTTP_CL,
    bytes: `${post("/dup/content-length")}Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "two Accepts",
    class: "duplicate-field",
    source: RFC9110,
    bytes: `${get("/dup/accept")}Accept: text/plain\r\nAccept: application/json\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "two Cookies",
    class: "duplicate-field",
    source: RFC9110,
    bytes: `${get("/dup/cookie")}Cookie: a=1\r\nCookie: b=2\r\n\r\n`,
    expect: "forward",
  },

  // Expect: 100-continue is the only expectation there is.
  {
    name: "Expect: teapot",
    class: "expect",
    source: RFC9110,
    bytes: `${post("/expect/teapot")}Expect: teapot\r\nContent-Length: 2\r\n\r\nab`,
    expect: 417,
  },
  {
    name: "Expect: 100-continues",
    class: "expect",
    source: RFC9110,
    bytes: `${post("/expect/continues")}Expect: 100-continues\r\nContent-Length: 2\r\n\r\nab`,
    expect: 417,
  },
  {
    name: "Expect: x 100-continue",
    class: "expect",
    source: DESYNC,
    bytes: `${post("/expect/obfuscated")}Expect: x 100-continue\r\nContent-Length: 2\r\n\r\nab`,
    expect: 417,
  },
  {
    name: "Expect: 100-continue with a small body",
    class: "expect",
    source: DESYNC,
    bytes: `${post("/expect/continue")}Expect: 100-continue\r\nContent-Length: 2\r\n\r\nab`,
    expect: "forward",
  },
  {
    name: "Expect: 100-Continue in mixed case",
    class: "expect",
    source: RFC9110,
    bytes: `${post("/expect/case")}Expect: 100-Continue\r\nContent-Length: 2\r\n\r\nab`,
    expect: "forward",
  },
  {
    name: "Expect: 100-continue with a chunked body",
    class: "expect",
    source: RFC9110,
    bytes: `${post("/expect/chunked")}Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n${AB}`,
    expect: "forward",
  },
  {
    name: "Expect: 100-continue without a body",
    class: "expect",
    source: RFC9110,
    bytes: `${get("/expect/no-body")}Expect: 100-continue\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "Expect: 100-continue in HTTP/1.0",
    class: "expect",
    source: RFC9110,
    bytes: `${request("POST", "/expect/http10", "HTTP/1.0")}Connection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab`,
    expect: "forward",
  },

  // Upgrades: a WebSocket handshake has no body; any other Upgrade is plain HTTP/1.1.
  {
    name: "WebSocket upgrade with Content-Length",
    class: "upgrade",
    source: "websocket-smuggle README.md",
    bytes: `${get("/up/ws-cl")}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 5\r\n\r\nhello`,
    expect: 400,
  },
  {
    name: "WebSocket upgrade with a chunked body",
    class: "upgrade",
    source: "websocket-smuggle README.md",
    bytes: `${get("/up/ws-te")}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nTransfer-Encoding: chunked\r\n\r\n${AB}`,
    expect: 400,
  },
  {
    name: "WebSocket upgrade, a bad version and a body",
    class: "upgrade",
    source: "websocket-smuggle Challenge1/challenge.py",
    bytes: `${get("/up/ws-version")}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 1337\r\nContent-Length: 4\r\n\r\nabcd`,
    expect: 400,
  },
  {
    name: "h2c upgrade",
    class: "upgrade",
    source: "h2csmuggler h2csmuggler.py",
    bytes: `${get("/up/h2c")}Accept: */*\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "h2c upgrade, HTTP2-Settings not in Connection",
    class: "upgrade",
    source: "h2csmuggler h2csmuggler.py",
    bytes: `${get("/up/h2c-only")}Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "h2c upgrade on POST with a body",
    class: "upgrade",
    source: "h2csmuggler h2csmuggler.py",
    bytes: `${post("/up/h2c-post")}Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\nContent-Length: 4\r\n\r\nabcd`,
    expect: "forward",
  },
  {
    name: "Upgrade: websocketx",
    class: "upgrade",
    source: "websocket-smuggle README.md",
    bytes: `${get("/up/websocketx")}Connection: Upgrade\r\nUpgrade: websocketx\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    expect: "forward",
  },
  {
    name: "Upgrade: websocket without Connection, on a POST",
    class: "upgrade",
    source: "websocket-smuggle README.md",
    bytes: `${post("/up/ws-no-connection")}Upgrade: websocket\r\nContent-Length: 4\r\n\r\nabcd`,
    expect: "forward",
  },
  {
    name: "Connection: close, host",
    class: "upgrade",
    source: RFC9110,
    bytes: `${get("/up/close-host")}Connection: close, host\r\n\r\n`,
    expect: "forward",
  },

  // Limits: maxHeaderBytes (16 KiB, request line included) and maxHeaderCount (100).
  {
    name: "a header over maxHeaderBytes",
    class: "limits",
    source: "node test/parallel/test-http-header-overflow.js",
    bytes: `${get("/limits/big")}X-Big: ${"b".repeat(20_000)}\r\n\r\n`,
    expect: 431,
  },
  {
    name: "headers over maxHeaderBytes together",
    class: "limits",
    source: "node test/parallel/test-http-header-overflow.js",
    bytes: `${get("/limits/many-big")}${Array.from({ length: 40 }, (_, i) => `X-P${i}: ${"p".repeat(500)}\r\n`).join("")}\r\n`,
    expect: 431,
  },
  {
    name: "a target over maxHeaderBytes",
    class: "limits",
    source: "node test/parallel/test-http-header-overflow.js",
    bytes: `GET /limits/${"t".repeat(20_000)} HTTP/1.1\r\nHost: api.test\r\n\r\n`,
    expect: 431,
  },
  {
    name: "101 header fields",
    class: "limits",
    source: RFC6585,
    bytes: fields("/limits/101", 101),
    expect: 431,
  },
  {
    name: "100 header fields",
    class: "limits",
    source: RFC6585,
    bytes: fields("/limits/100", 100),
    expect: "forward",
  },
  {
    name: "a 12 KiB header",
    class: "limits",
    source: RFC6585,
    bytes: `${get("/limits/12k")}X-Big: ${"b".repeat(12_288)}\r\n\r\n`,
    expect: "forward",
  },
];
