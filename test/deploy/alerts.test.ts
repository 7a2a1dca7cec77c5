/**
 * deploy/prometheus/graygate-alerts.yaml: promtool accepts it, its unit tests
 * (alerts.promtest.yaml beside this file) fire each alert on the series it is
 * for and no other, and every rule has what an on-call engineer needs and
 * selects only metrics that graygate exports.
 */
import { readFileSync } from "node:fs";
import t from "tap";
import { parse } from "yaml";
import { exec, exitedZero, NEEDS_PROMTOOL, onlyExportedMetrics, repoFile } from "./helpers.ts";

const RULES = "deploy/prometheus/graygate-alerts.yaml";

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const { groups } = parse(readFileSync(repoFile(RULES), "utf8")) as {
  groups: { name: string; rules: Rule[] }[];
};
const rules = groups.flatMap((group) => group.rules);
const alerts = rules.filter((rule) => rule.alert !== undefined);
const recorded = new Set(rules.flatMap((rule) => (rule.record === undefined ? [] : [rule.record])));

t.test("promtool check rules", NEEDS_PROMTOOL, async (t) => {
  const ran = await exec("promtool", ["check", "rules", RULES]);
  exitedZero(t, ran, `promtool check rules ${RULES}`);
  t.match(ran?.stdout, `SUCCESS: ${rules.length} rules found`);
});

t.test("promtool test rules: each alert fires when it should", NEEDS_PROMTOOL, async (t) => {
  const ran = await exec("promtool", ["test", "rules", "test/deploy/alerts.promtest.yaml"]);
  exitedZero(t, ran, "promtool test rules test/deploy/alerts.promtest.yaml");
});

t.test("the unit tests see every alert fire, and stay quiet", async (t) => {
  const { tests } = parse(readFileSync(repoFile("test/deploy/alerts.promtest.yaml"), "utf8")) as {
    tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
  };
  const cases = tests.flatMap((test) => test.alert_rule_test);
  for (const { alert } of alerts) {
    const mine = cases.filter((c) => c.alertname === alert);
    t.ok(
      mine.some((c) => c.exp_alerts.length > 0),
      `${alert} fires in a test`,
    );
    t.ok(
      mine.some((c) => c.exp_alerts.length === 0),
      `${alert} stays quiet in another`,
    );
  }
});

t.test("the alerts the issue asks for are there", async (t) => {
  const exprOf = (name: string) => alerts.find((a) => a.alert === name)?.expr ?? "";
  t.match(exprOf("GraygateCanaryErrorRatioHigh"), /2 \* graygate:request_errors:ratio_rate5m/);
  t.match(exprOf("GraygateCanaryLatencyHigh"), "p99");
  t.match(exprOf("GraygateConfigReloadFailing"), "graygate_config_last_reload_successful == 0");
  t.match(
    exprOf("GraygateUpstreamNoHealthyTarget"),
    "max by (upstream) (graygate_upstream_target_up) == 0",
  );
  t.match(exprOf("GraygateCanaryUnreachable"), /graygate_fallbacks_total[\s\S]*unless/);
  const p99 = rules.find((r) => r.record === "graygate:request_duration_seconds:p99_5m")?.expr;
  t.match(p99, /histogram_quantile\(0\.99,\s*sum by \(le, route, version\)/);
});

t.test("every alert has for, a severity, a summary and a description", async (t) => {
  t.ok(alerts.length >= 5);
  for (const alert of alerts) {
    t.match(
      alert,
      {
        for: /^\d+[smh]$/,
        labels: { severity: /^(critical|warning|info)$/ },
        annotations: { summary: /\S/, description: /\S/ },
      },
      String(alert.alert),
    );
  }
});

t.test("every expression selects only graygate's metrics or this file's records", async (t) => {
  for (const rule of rules) {
    const names = onlyExportedMetrics(t, rule.expr, recorded);
    if (rule.record !== undefined) t.notOk(names.includes(rule.record), "not its own record");
  }
});
