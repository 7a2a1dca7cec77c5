// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${datasource} is Grafana's variable syntax here
/**
 * deploy/grafana/graygate.json: a dashboard whose every panel queries
 * metrics that graygate exports, through the `datasource` variable, filtered
 * by the `route` variable wherever the metric has a route; promtool parses
 * every query.
 */
import { readFileSync } from "node:fs";
import t from "tap";
import {
  checkExpressions,
  EXPORTED,
  NEEDS_PROMTOOL,
  onlyExportedMetrics,
  repoFile,
} from "./helpers.ts";

interface Datasource {
  type?: string;
  uid?: string;
}
interface Panel {
  id: number;
  title?: string;
  type: string;
  datasource?: Datasource;
  targets?: { expr?: string; refId: string; datasource?: Datasource }[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  definition?: string;
  datasource?: Datasource;
  multi?: boolean;
  includeAll?: boolean;
}
const dashboard = JSON.parse(readFileSync(repoFile("deploy/grafana/graygate.json"), "utf8")) as {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
};
/** Every panel, those in collapsed rows too. */
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const variable = (name: string) => dashboard.templating.list.find((v) => v.name === name);
const VIA_VARIABLE = { type: "prometheus", uid: "${datasource}" };

t.test("a dashboard Grafana 10/11 imports", async (t) => {
  t.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, "schemaVersion ~39");
  t.equal(dashboard.uid, "graygate");
  t.equal(dashboard.title, "graygate");
  const ids = panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, "panel ids are unique");
});

t.test("the datasource and route variables", async (t) => {
  t.match(variable("datasource"), { type: "datasource", query: "prometheus" });
  const route = variable("route");
  t.match(route, { type: "query", multi: true, includeAll: true, datasource: VIA_VARIABLE });
  const query = typeof route?.query === "string" ? route.query : route?.query.query;
  t.equal(query, "label_values(graygate_requests_total, route)");
});

t.test("every panel has a title and queries through the datasource variable", async (t) => {
  for (const panel of panels) {
    t.match(panel.title, /\S/, `panel ${panel.id} has a title`);
    t.ok(
      (panel.targets ?? []).some((target) => target.expr),
      `${panel.title} has a query`,
    );
    t.strictSame(panel.datasource, VIA_VARIABLE, `${panel.title}: the datasource variable`);
    for (const target of panel.targets ?? []) {
      if (target.datasource !== undefined) t.strictSame(target.datasource, VIA_VARIABLE);
    }
  }
});

t.test("the panels the issue asks for", async (t) => {
  const exprs = panels
    .flatMap((p) => (p.targets ?? []).map((target) => target.expr ?? ""))
    .join("\n");
  for (const needed of [
    "graygate_requests_total",
    'code=~"5.."',
    "histogram_quantile(0.5,",
    "histogram_quantile(0.99,",
    "graygate_decisions_total",
    "graygate_fallbacks_total",
    "graygate_config_last_reload_successful",
    "graygate_config_reloads_total",
    "graygate_config_info",
    "graygate_in_flight_requests",
    "graygate_upstream_target_up",
  ]) {
    t.match(exprs, needed, `a panel queries ${needed}`);
  }
  t.ok(
    panels.some(
      (p) => p.type === "table" && JSON.stringify(p.targets).includes("graygate_config_info"),
    ),
    "the config hash as a table",
  );
});

t.test(
  "every query selects only graygate's metrics, by $route where they have a route",
  async (t) => {
    for (const panel of panels) {
      for (const { expr = "" } of panel.targets ?? []) {
        const names = onlyExportedMetrics(t, expr);
        if (names.some((name) => EXPORTED.get(name)?.includes("route"))) {
          t.match(expr, 'route=~"$route"', `${panel.title}: filtered by the route variable`);
        }
      }
    }
  },
);

t.test("promtool parses every query", NEEDS_PROMTOOL, async (t) => {
  const exprs = new Map<string, string>();
  for (const panel of panels) {
    for (const target of panel.targets ?? []) {
      const expr = (target.expr ?? "")
        .replaceAll("$__rate_interval", "1m")
        .replaceAll("$__range", "1h")
        .replaceAll("$route", ".*");
      exprs.set(`panel_${panel.id}_${target.refId}`, expr);
    }
  }
  await checkExpressions(t, exprs);
});
