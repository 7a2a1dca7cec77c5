/** Listen addresses: "host:port", "[v6]:port" or ":port" (all interfaces). */

export interface ListenAddress {
  /** undefined: all interfaces, as Node's listen() without a host. */
  host: string | undefined;
  port: number;
}

export function parseListen(text: string): ListenAddress | undefined {
  const colon = text.lastIndexOf(":");
  if (colon === -1) return undefined;
  const portText = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  let host = text.slice(0, colon);
  if (host.startsWith("[")) {
    if (!host.endsWith("]")) return undefined;
    host = host.slice(1, -1);
    if (!host.includes(":")) return undefined;
  } else if (host.includes(":")) {
    return undefined; // a bare IPv6 address needs brackets
  } else if (host !== "" && !/^[A-Za-z0-9.-]+$/.test(host)) {
    return undefined;
  }
  return { host: host === "" ? undefined : host, port };
}

export function isValidListen(text: string): boolean {
  return parseListen(text) !== undefined;
}
