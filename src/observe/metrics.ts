/**
 * The metrics of SPEC §7, on one prom-client registry. OpenMetrics is
 * rendered from a copy (prom-client renames a counter in place when it
 * renders OpenMetrics, so one metric must never serve both formats).
 * Label values come only from the config (route, version, upstream, rule,
 * feature names) or from fixed sets (method, code, reason): never from a
 * request. Bound children are cached, so the hot path does no label hashing.
 */
import client from "prom-client";

const STANDARD_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

/** A request method as a label: one of the standard methods, else OTHER. */
export function methodLabel(method: string): string {
  return STANDARD_METHODS.has(method) ? method : "OTHER";
}

export type UpstreamErrorReason = "refused" | "reset" | "timeout" | "no_healthy_target" | "other";

interface Child {
  inc(value?: number): void;
}
interface GaugeChild extends Child {
  dec(value?: number): void;
  set(value: number): void;
}
interface HistogramChild {
  observe(value: number): void;
}

/** The children one (route, version, upstream) uses on every request. */
export interface VersionMetrics {
  readonly duration: HistogramChild;
  readonly inFlight: GaugeChild;
  /** methodLabel + " " + status code → child; filled as codes appear. */
  readonly requests: Map<string, Child>;
  readonly route: string;
  readonly version: string;
  readonly upstream: string;
}

/**
 * Which metrics a process exports: all of them (one process), the request
 * side (a worker), or the config side (the primary of several workers, which
 * adds the workers' request metrics when scraped).
 */
export type MetricsRole = "all" | "requests" | "config";

const LINT_FAILING_DEFAULTS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

const CONFIG_SIDE = [
  "graygate_config_reloads_total",
  "graygate_config_last_reload_successful",
  "graygate_config_last_reload_success_timestamp_seconds",
  "graygate_config_info",
];
const REQUEST_SIDE = [
  "graygate_requests_total",
  "graygate_request_duration_seconds",
  "graygate_upstream_errors_total",
  "graygate_decisions_total",
  "graygate_fallbacks_total",
  "graygate_in_flight_requests",
  "graygate_upstream_target_up",
  "graygate_feature_enabled_total",
];

export class Metrics {
  readonly role: MetricsRole;
  readonly text = new client.Registry();
  private readonly registers = [this.text];

  readonly requestsTotal = new client.Counter({
    name: "graygate_requests_total",
    help: "Requests answered, by the version that served them.",
    labelNames: ["route", "version", "upstream", "method", "code"] as const,
    registers: this.registers,
  });
  readonly requestDuration = new client.Histogram({
    name: "graygate_request_duration_seconds",
    help: "Time from the request's arrival to the end of its response.",
    labelNames: ["route", "version"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: this.registers,
  });
  readonly upstreamErrors = new client.Counter({
    name: "graygate_upstream_errors_total",
    help: "Upstream failures, by reason.",
    labelNames: ["route", "version", "upstream", "reason"] as const,
    registers: this.registers,
  });
  readonly decisions = new client.Counter({
    name: "graygate_decisions_total",
    help: "Routing decisions, by the rule that decided (default: none did) and the version that served.",
    labelNames: ["route", "rule", "version"] as const,
    registers: this.registers,
  });
  readonly fallbacks = new client.Counter({
    name: "graygate_fallbacks_total",
    help: "Requests sent to stable because their version could not be reached.",
    labelNames: ["route", "from", "to"] as const,
    registers: this.registers,
  });
  readonly inFlight = new client.Gauge({
    name: "graygate_in_flight_requests",
    help: "Requests being served.",
    labelNames: ["route", "version"] as const,
    registers: this.registers,
  });
  readonly targetUp = new client.Gauge({
    name: "graygate_upstream_target_up",
    help: "1 when an upstream target is taken for traffic, 0 when it is out.",
    labelNames: ["upstream", "target"] as const,
    // Across workers: up when any worker takes it.
    aggregator: "max",
    registers: this.registers,
  });
  readonly configReloads = new client.Counter({
    name: "graygate_config_reloads_total",
    help: "Config reloads, by result.",
    labelNames: ["result"] as const,
    registers: this.registers,
  });
  readonly configLastReloadSuccessful = new client.Gauge({
    name: "graygate_config_last_reload_successful",
    help: "1 when the last config load succeeded.",
    registers: this.registers,
  });
  readonly configLastReloadSuccessTimestamp = new client.Gauge({
    name: "graygate_config_last_reload_success_timestamp_seconds",
    help: "When the running config was loaded, in Unix seconds.",
    registers: this.registers,
  });
  readonly configInfo = new client.Gauge({
    name: "graygate_config_info",
    help: "The running config's sha256, as a label; the value is 1.",
    labelNames: ["hash"] as const,
    registers: this.registers,
  });
  readonly featureEnabled = new client.Counter({
    name: "graygate_feature_enabled_total",
    help: "Requests for which a feature switch was on.",
    labelNames: ["feature"] as const,
    registers: this.registers,
  });

  private readonly byVersion = new Map<string, Map<string, Map<string, VersionMetrics>>>();
  private readonly decisionChildren = new Map<string, Child>();
  private readonly featureChildren = new Map<string, Child>();

  constructor(options: { defaultMetrics?: boolean; role?: MetricsRole } = {}) {
    this.role = options.role ?? "all";
    const drop =
      this.role === "requests" ? CONFIG_SIDE : this.role === "config" ? REQUEST_SIDE : [];
    for (const name of drop) {
      for (const registry of this.registers) registry.removeSingleMetric(name);
    }
    for (const result of ["success", "failure"]) this.configReloads.labels(result).inc(0);
    if (options.defaultMetrics !== false) {
      client.collectDefaultMetrics({ register: this.text });
      // Gauges whose "_total" names fail promtool's lint; their per-type
      // siblings (nodejs_active_handles{type}, …) carry the same numbers.
      for (const name of LINT_FAILING_DEFAULTS) this.text.removeSingleMetric(name);
    }
  }

  /** The cached children for one (route, version, upstream). */
  version(route: string, version: string, upstream: string): VersionMetrics {
    let versions = this.byVersion.get(route);
    if (versions === undefined) {
      versions = new Map();
      this.byVersion.set(route, versions);
    }
    let upstreams = versions.get(version);
    if (upstreams === undefined) {
      upstreams = new Map();
      versions.set(version, upstreams);
    }
    let entry = upstreams.get(upstream);
    if (entry === undefined) {
      entry = {
        duration: this.requestDuration.labels(route, version),
        inFlight: this.inFlight.labels(route, version),
        requests: new Map(),
        route,
        version,
        upstream,
      };
      upstreams.set(upstream, entry);
    }
    return entry;
  }

  countRequest(entry: VersionMetrics, method: string, code: number): void {
    const key = `${method} ${code}`;
    let child = entry.requests.get(key);
    if (child === undefined) {
      child = this.requestsTotal.labels(
        entry.route,
        entry.version,
        entry.upstream,
        method,
        String(code),
      );
      entry.requests.set(key, child);
    }
    child.inc();
  }

  countDecision(route: string, rule: string, version: string): void {
    const key = `${route}\0${rule}\0${version}`;
    let child = this.decisionChildren.get(key);
    if (child === undefined) {
      child = this.decisions.labels(route, rule, version);
      this.decisionChildren.set(key, child);
    }
    child.inc();
  }

  countFeatures(features: readonly string[]): void {
    for (let i = 0; i < features.length; i++) {
      const feature = features[i] as string;
      let child = this.featureChildren.get(feature);
      if (child === undefined) {
        child = this.featureEnabled.labels(feature);
        this.featureChildren.set(feature, child);
      }
      child.inc();
    }
  }

  countUpstreamError(entry: VersionMetrics, reason: UpstreamErrorReason): void {
    this.upstreamErrors.labels(entry.route, entry.version, entry.upstream, reason).inc();
  }

  countFallback(route: string, from: string, to: string): void {
    this.fallbacks.labels(route, from, to).inc();
  }

  private targetLabels = new Map<string, [string, string]>();

  /** graygate_upstream_target_up for the running config's targets; the others' series go. */
  setTargets(
    upstreams: ReadonlyMap<
      string,
      { readonly targets: readonly { url: string; available: boolean }[] }
    >,
  ): void {
    const next = new Map<string, [string, string]>();
    for (const [name, upstream] of upstreams) {
      for (const target of upstream.targets) {
        this.targetUp.labels(name, target.url).set(target.available ? 1 : 0);
        next.set(`${name}\0${target.url}`, [name, target.url]);
      }
    }
    for (const [key, [name, url]] of this.targetLabels) {
      if (!next.has(key)) this.targetUp.remove(name, url);
    }
    this.targetLabels = next;
  }

  /** Records a config load: success updates the info and timestamp gauges. */
  configLoaded(hash: string, result: "success" | "failure", counted: boolean): void {
    if (counted) this.configReloads.labels(result).inc();
    this.configLastReloadSuccessful.set(result === "success" ? 1 : 0);
    if (result === "success") {
      this.configInfo.reset();
      this.configInfo.labels(hash).set(1);
      this.configLastReloadSuccessTimestamp.set(Date.now() / 1000);
    }
  }

  /** On a primary: fetches its workers' metrics, to be summed with its own. */
  gatherWorkers:
    | (() => Promise<client.MetricObjectWithValues<client.MetricValue<string>>[][]>)
    | undefined;

  /** Text for GET /metrics: OpenMetrics when the scraper asks for it. */
  async render(accept: string | undefined): Promise<{ contentType: string; body: string }> {
    const openMetrics = accept?.includes("application/openmetrics-text") === true;
    if (!openMetrics && this.gatherWorkers === undefined) {
      return { contentType: this.text.contentType, body: await this.text.metrics() };
    }
    const parts = this.gatherWorkers === undefined ? [] : await this.gatherWorkers();
    parts.push(await this.text.getMetricsAsJSON());
    // A fresh registry from the JSON: summed over workers, and free to render
    // as OpenMetrics, which names a counter's family without "_total".
    const copy = client.AggregatorRegistry.aggregate(
      parts.map((part) =>
        part.map((metric) => (openMetrics ? counterFamily(keep(metric)) : keep(metric))),
      ),
    );
    if (openMetrics) copy.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
    return { contentType: copy.contentType, body: await copy.metrics() };
  }
}

type MetricJson = client.MetricObjectWithValues<client.MetricValue<string>>;

/** prom-client drops "omit" metrics when summing (process_start_time_seconds): keep the earliest. */
function keep(metric: MetricJson): MetricJson {
  return metric.aggregator === "omit" ? { ...metric, aggregator: "min" } : metric;
}

/** OpenMetrics names a counter family without "_total" and adds it to the samples. */
function counterFamily(metric: MetricJson): MetricJson {
  return String(metric.type) === "counter"
    ? { ...metric, name: metric.name.replace(/_total$/, "") }
    : metric;
}
