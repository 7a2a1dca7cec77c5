/**
 * Reading one named value out of a request without parsing the rest: a
 * cookie from the Cookie header, a parameter from the query string. Each
 * scan stops at the first hit and allocates only the value it returns.
 */

/** Node's header object: lower-case names, repeated headers joined (set-cookie kept as a list). */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

export function headerValue(headers: HeaderBag, lowerName: string): string | undefined {
  const value = headers[lowerName];
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.join(", ");
  return undefined;
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9;
}

/** RFC 6265 cookie value by name (case-sensitive), surrounding DQUOTEs removed; undefined if absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const n = header.length;
  const nameLength = name.length;
  let start = 0;
  while (start < n) {
    while (start < n && isSpace(header.charCodeAt(start))) start++;
    let end = header.indexOf(";", start);
    if (end === -1) end = n;
    if (
      end - start > nameLength &&
      header.charCodeAt(start + nameLength) === 61 &&
      header.startsWith(name, start)
    ) {
      let valueStart = start + nameLength + 1;
      let valueEnd = end;
      while (valueEnd > valueStart && isSpace(header.charCodeAt(valueEnd - 1))) valueEnd--;
      if (
        valueEnd - valueStart >= 2 &&
        header.charCodeAt(valueStart) === 34 &&
        header.charCodeAt(valueEnd - 1) === 34
      ) {
        valueStart++;
        valueEnd--;
      }
      return header.slice(valueStart, valueEnd);
    }
    start = end + 1;
  }
  return undefined;
}

/** Form decoding, as URLSearchParams does it: "+" is a space, `%XX` escapes; a malformed escape stays as written. */
export function decodeQueryComponent(text: string): string {
  if (text.indexOf("%") === -1 && text.indexOf("+") === -1) return text;
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    // Rare: let the WHATWG parser keep the bad escapes and decode the rest.
    return new URLSearchParams(`k=${text}`).get("k") ?? text;
  }
}

/** The first value of a query parameter, decoded; "" for `?flag`; undefined if absent. */
export function queryValue(query: string, name: string): string | undefined {
  const n = query.length;
  let start = 0;
  while (start < n) {
    let end = query.indexOf("&", start);
    if (end === -1) end = n;
    if (end > start) {
      let eq = query.indexOf("=", start);
      if (eq === -1 || eq > end) eq = end;
      let matches: boolean;
      if (eq - start === name.length && query.startsWith(name, start)) {
        matches = true;
      } else {
        const rawKey = query.slice(start, eq);
        matches =
          (rawKey.indexOf("%") !== -1 || rawKey.indexOf("+") !== -1) &&
          decodeQueryComponent(rawKey) === name;
      }
      if (matches) return eq >= end ? "" : decodeQueryComponent(query.slice(eq + 1, end));
    }
    start = end + 1;
  }
  return undefined;
}
