/** Turning what arrives on a socket into the facts `decide` reads. */
import { type CidrSet, normalizeAddress } from "../net/cidr.ts";

/** Host header → host without port, lower-cased ("[::1]:8080" → "[::1]"). */
export function hostOf(hostHeader: string | undefined): string {
  if (hostHeader === undefined || hostHeader === "") return "";
  let end = hostHeader.length;
  if (hostHeader.charCodeAt(0) === 91) {
    const close = hostHeader.indexOf("]");
    if (close !== -1) end = close + 1;
  } else {
    const colon = hostHeader.indexOf(":");
    if (colon !== -1) end = colon;
  }
  const host = end === hostHeader.length ? hostHeader : hostHeader.slice(0, end);
  // Lower-casing allocates; most clients already send lower case.
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 65 && c <= 90) return host.toLowerCase();
  }
  return host;
}

/**
 * The client address graygate believes: the peer itself, unless the peer is
 * a trusted proxy, in which case walk X-Forwarded-For from the right and take
 * the first entry that is not itself trusted (all trusted: the leftmost).
 */
export function clientAddress(
  peer: string,
  forwardedFor: string | undefined,
  trusted: CidrSet,
): { address: string; trustedPeer: boolean } {
  const address = normalizeAddress(peer);
  if (!trusted.containsText(address)) return { address, trustedPeer: false };
  if (forwardedFor === undefined || forwardedFor === "") return { address, trustedPeer: true };
  const hops = forwardedFor.split(",");
  let candidate = address;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress((hops[i] as string).trim());
    if (hop === "") continue;
    candidate = hop;
    if (!trusted.containsText(hop)) break;
  }
  return { address: candidate, trustedPeer: true };
}
