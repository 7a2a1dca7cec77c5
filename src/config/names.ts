/**
 * Names graygate gives meaning to, defined once: the version every route
 * has, the label values of requests no route or rule took, and graygate's
 * own headers (README, "What a request gets"; docs/METRICS.md).
 */

/** The version every route must have: the default answer and where fallback goes. */
export const STABLE = "stable";
/** The route and version of a request no route took (a label value; no route may be named so). */
export const NO_MATCH = "none";
/** The rule of a decision no rule made (no rule may be named so). */
export const DEFAULT_RULE = "default";

/** The header naming the version that serves, unless `server.versionHeader` says another. */
export const VERSION_HEADER = "x-graygate-version";
/** The header naming the rule that decided. */
export const RULE_HEADER = "x-graygate-rule";
/** The header listing the enabled features, comma-joined. */
export const FEATURES_HEADER = "x-graygate-features";
/** The request id header, kept when sane, else made. */
export const REQUEST_ID_HEADER = "x-request-id";
