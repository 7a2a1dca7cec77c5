/** Upstream targets: "http://host:port" or "https://host:port", nothing else. */

export interface Target {
  /** The origin, as undici wants it: "http://host:port". */
  origin: string;
  protocol: "http:" | "https:";
  host: string;
  port: number;
}

/** What is wrong with a target string, or undefined when it is fine. */
export function targetProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be a URL such as "http://10.0.0.1:8080"';
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `must use http or https, not ${url.protocol.slice(0, -1)}`;
  }
  if (url.username !== "" || url.password !== "") return "must not carry credentials";
  if (url.hostname === "") return "must name a host";
  if (url.search !== "" || url.hash !== "" || /[?#]/.test(text)) {
    return "must not have a query or fragment";
  }
  if (url.pathname !== "/") {
    return `must not have a path (got "${url.pathname}"); graygate forwards the request path unchanged`;
  }
  return undefined;
}

export function parseTarget(text: string): Target {
  const url = new URL(text);
  const protocol = url.protocol as Target["protocol"];
  const port = url.port === "" ? (protocol === "https:" ? 443 : 80) : Number(url.port);
  return { origin: `${protocol}//${url.host}`, protocol, host: url.hostname, port };
}
