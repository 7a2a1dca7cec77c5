/**
 * The metrics of docs/METRICS.md, on one prom-client registry. OpenMetrics is
 * rendered from a copy (prom-client renames a counter in place when it
 * renders OpenMetrics, so one metric must never serve both formats).
 * Label values come only from the config (route, version, upstream, rule,
 * feature names) or from fixed sets (method, code, reason): never from a
 * request. The per-request series (requests, durations, decisions, features,
 * in-flight) are plain numbers on the hot path, cached per label set, and
 * handed to prom-client when it collects (a scrape): prom-client's own
 * children hash and validate their labels on every inc and observe.
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

/** One series as a plain number, with its labels for prom-client. */
class Cell {
  value = 0;
  readonly labels: Record<string, string>;
  constructor(labels: Record<string, string>) {
    this.labels = labels;
  }
}

/** A counter series; `reported` is what prom-client has been given. */
class CounterCell extends Cell {
  reported = 0;
}

/** A gauge series. */
class GaugeCell extends Cell {
  inc(): void {
    this.value++;
  }
  dec(): void {
    this.value--;
  }
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A histogram series: per-bucket (not cumulative) counts, as prom-client keeps them. */
class HistogramCell {
  readonly counts = new Float64Array(DURATION_BUCKETS.length);
  sum = 0;
  count = 0;
  readonly labels: Record<string, string>;
  constructor(labels: Record<string, string>) {
    this.labels = labels;
  }
  observe(value: number): void {
    const buckets = DURATION_BUCKETS;
    let i = 0;
    while (i < buckets.length && value > (buckets[i] as number)) i++;
    if (i < buckets.length) (this.counts[i] as number)++;
    this.sum += value;
    this.count++;
  }
}

/** The map under `key` in a map of maps, made on first use. */
function inner<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let map = outer.get(key);
  if (map === undefined) {
    map = new Map();
    outer.set(key, map);
  }
  return map;
}

const METHOD_INDEX = new Map<string, number>(
  [...STANDARD_METHODS, "OTHER"].map((method, index) => [method, index]),
);
const OTHER_INDEX = METHOD_INDEX.get("OTHER") as number;

/** The children one (route, version, upstream) uses on every request. */
export interface VersionMetrics {
  readonly duration: HistogramCell;
  readonly inFlight: GaugeCell;
  /** status code × 16 + method index → series; filled as codes appear. */
  readonly requests: Map<number, CounterCell>;
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

  readonly requestsTotal: client.Counter<"route" | "version" | "upstream" | "method" | "code"> =
    new client.Counter({
      name: "graygate_requests_total",
      help: "Requests answered, by the version that served them.",
      labelNames: ["route", "version", "upstream", "method", "code"] as const,
      registers: this.registers,
      collect: () => this.collectCounters(this.requestsTotal, this.requestCells),
    });
  readonly requestDuration = new client.Histogram({
    name: "graygate_request_duration_seconds",
    help: "Time from the request's arrival to the end of its response.",
    labelNames: ["route", "version"] as const,
    buckets: DURATION_BUCKETS,
    registers: this.registers,
    collect: () => this.collectDurations(),
  });
  readonly upstreamErrors = new client.Counter({
    name: "graygate_upstream_errors_total",
    help: "Upstream failures, by reason.",
    labelNames: ["route", "version", "upstream", "reason"] as const,
    registers: this.registers,
  });
  readonly decisions: client.Counter<"route" | "rule" | "version"> = new client.Counter({
    name: "graygate_decisions_total",
    help: "Routing decisions, by the rule that decided (default: none did) and the version that served.",
    labelNames: ["route", "rule", "version"] as const,
    registers: this.registers,
    collect: () => this.collectCounters(this.decisions, this.decisionCells),
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
    collect: () => {
      for (const cell of this.byRouteVersion.values())
        this.inFlight.set(cell.inFlight.labels, cell.inFlight.value);
    },
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
  readonly featureEnabled: client.Counter<"feature"> = new client.Counter({
    name: "graygate_feature_enabled_total",
    help: "Requests for which a feature switch was on.",
    labelNames: ["feature"] as const,
    registers: this.registers,
    collect: () => this.collectCounters(this.featureEnabled, [...this.featureChildren.values()]),
  });

  private readonly byVersion = new Map<string, Map<string, Map<string, VersionMetrics>>>();
  /** Durations and in-flight are by (route, version): shared by its upstreams. */
  private readonly byRouteVersion = new Map<
    string,
    { duration: HistogramCell; inFlight: GaugeCell }
  >();
  private readonly requestCells: CounterCell[] = [];
  /** route → rule → version → series. */
  private readonly decisionChildren = new Map<string, Map<string, Map<string, CounterCell>>>();
  private readonly decisionCells: CounterCell[] = [];
  private readonly featureChildren = new Map<string, CounterCell>();

  /** Hands the counts since the last collect to prom-client. */
  private collectCounters<T extends string>(
    counter: client.Counter<T>,
    cells: readonly CounterCell[],
  ): void {
    for (const cell of cells) {
      const delta = cell.value - cell.reported;
      if (delta > 0 || cell.reported === 0) {
        counter.inc(cell.labels as Partial<Record<T, string>>, delta);
        cell.reported = cell.value;
      }
    }
  }

  /**
   * prom-client's Histogram takes one observation at a time: its series are
   * set from the cells instead (its value map holds, per series, the labels,
   * per-bucket counts keyed by bound, sum and count; prom-client is pinned).
   */
  private collectDurations(): void {
    const histogram = this.requestDuration as unknown as {
      hashMap: Record<string, unknown>;
    };
    const map: Record<string, unknown> = {};
    let n = 0;
    for (const { duration } of this.byRouteVersion.values()) {
      const bucketValues: Record<number, number> = {};
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        bucketValues[DURATION_BUCKETS[i] as number] = duration.counts[i] as number;
      }
      map[String(n++)] = {
        labels: duration.labels,
        bucketValues,
        sum: duration.sum,
        count: duration.count,
      };
    }
    histogram.hashMap = map;
  }

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
    const upstreams = inner(inner(this.byVersion, route), version);
    let entry = upstreams.get(upstream);
    if (entry === undefined) {
      const key = `${route}\0${version}`;
      let shared = this.byRouteVersion.get(key);
      if (shared === undefined) {
        shared = {
          duration: new HistogramCell({ route, version }),
          inFlight: new GaugeCell({ route, version }),
        };
        this.byRouteVersion.set(key, shared);
      }
      entry = {
        duration: shared.duration,
        inFlight: shared.inFlight,
        requests: new Map(),
        route,
        version,
        upstream,
      };
      upstreams.set(upstream, entry);
    }
    return entry;
  }

  /** `method` is a methodLabel. */
  countRequest(entry: VersionMetrics, method: string, code: number): void {
    const key = code * 16 + (METHOD_INDEX.get(method) ?? OTHER_INDEX);
    let cell = entry.requests.get(key);
    if (cell === undefined) {
      cell = new CounterCell({
        route: entry.route,
        version: entry.version,
        upstream: entry.upstream,
        method,
        code: String(code),
      });
      entry.requests.set(key, cell);
      this.requestCells.push(cell);
    }
    cell.value++;
  }

  countDecision(route: string, rule: string, version: string): void {
    const versions = inner(inner(this.decisionChildren, route), rule);
    let cell = versions.get(version);
    if (cell === undefined) {
      cell = new CounterCell({ route, rule, version });
      versions.set(version, cell);
      this.decisionCells.push(cell);
    }
    cell.value++;
  }

  countFeatures(features: readonly string[]): void {
    for (let i = 0; i < features.length; i++) {
      const feature = features[i] as string;
      let cell = this.featureChildren.get(feature);
      if (cell === undefined) {
        cell = new CounterCell({ feature });
        this.featureChildren.set(feature, cell);
      }
      cell.value++;
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
