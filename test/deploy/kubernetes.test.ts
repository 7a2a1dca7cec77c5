/**
 * deploy/kubernetes: the manifests agree with each other and with the
 * config they carry (ports, probes, the mount that follows ConfigMap
 * updates, the shutdown budget), and that config is one graygate accepts
 * (a real `graygate validate` and `graygate explain`).
 */
import { readdirSync } from "node:fs";
import t from "tap";
import { parseListen } from "../../src/config/listen.ts";
import { expectExit } from "../config/helpers.ts";
import {
  embeddedConfig,
  embeddedConfigFile,
  IMAGE_COMMAND,
  KUBERNETES,
  manifest,
} from "./helpers.ts";

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Meta;
}
interface Selector {
  matchLabels: Record<string, string>;
}
interface Port {
  name: string;
  containerPort: number;
}
interface Probe {
  httpGet: { path: string; port: string };
}
interface Container {
  image: string;
  args: string[];
  ports: Port[];
  env: { name: string; valueFrom?: { secretKeyRef?: { optional?: boolean } } }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle: { preStop: { exec: { command: string[] } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string; subPath?: string }[];
}
interface Deployment extends Manifest {
  spec: {
    replicas: number;
    selector: Selector;
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        securityContext: Record<string, unknown>;
        containers: Container[];
        volumes: { name: string; configMap?: { name: string } }[];
      };
    };
  };
}

interface Service extends Manifest {
  spec: { selector: Record<string, string>; ports: { targetPort: string }[] };
}
interface Budget extends Manifest {
  spec: { selector: Selector; minAvailable?: number; maxUnavailable?: number };
}
interface Autoscaler extends Manifest {
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas: number;
    metrics: { resource: { name: string } }[];
  };
}
interface PodMonitor extends Manifest {
  spec: { selector: Selector; podMetricsEndpoints: { port: string; path: string }[] };
}

const deployment = manifest<Deployment>("deployment.yaml");
const pod = deployment.spec.template;
const [container] = pod.spec.containers as [Container];
const config = embeddedConfig();
const portNamed = (name: string) => container.ports.find((p) => p.name === name)?.containerPort;

/** Whether a selector picks graygate's pods. */
const selectsPods = (selector: Selector) =>
  Object.entries(selector.matchLabels).every(([k, v]) => pod.metadata.labels[k] === v);

t.test("kustomization.yaml lists every manifest; none names a namespace", async (t) => {
  const files = readdirSync(KUBERNETES).filter((f) => f.endsWith(".yaml"));
  const { resources } = manifest<{ resources: string[] }>("kustomization.yaml");
  t.strictSame([...resources].sort(), files.filter((f) => f !== "kustomization.yaml").sort());
  for (const file of resources) {
    const doc = manifest<Manifest>(file);
    t.ok(doc.apiVersion && doc.kind && doc.metadata.name, `${file}: ${doc.kind}`);
    t.equal(doc.metadata.namespace, undefined, `${file} is namespace-free`);
  }
});

t.test("the Deployment: replicas, image, command, ports", async (t) => {
  t.equal(deployment.spec.replicas, 3);
  t.ok(selectsPods(deployment.spec.selector), "its selector picks its pods");
  t.equal(container.image, "graygate:latest");
  t.strictSame(container.args, [IMAGE_COMMAND[2], "-c", "/etc/graygate/graygate.yaml"]);
  t.equal(portNamed("proxy"), parseListen(config.server.listen)?.port, "proxy: server.listen");
  t.equal(portNamed("admin"), parseListen(config.admin.listen)?.port, "admin: admin.listen");
  t.strictSame([portNamed("proxy"), portNamed("admin")], [8080, 9090], "the image's EXPOSE");
});

t.test("the probes ask the admin listener, which listens on the pod IP", async (t) => {
  t.strictSame(container.livenessProbe.httpGet, { path: "/healthz", port: "admin" });
  t.strictSame(container.readinessProbe.httpGet, { path: "/readyz", port: "admin" });
  t.equal(
    parseListen(config.admin.listen)?.host,
    "0.0.0.0",
    "not loopback: the kubelet reaches it",
  );
  t.equal(config.admin.token, "", "the token comes from the environment (empty when unset)");
  const token = container.env.find((e) => e.name === "GRAYGATE_ADMIN_TOKEN");
  t.equal(token?.valueFrom?.secretKeyRef?.optional, true, "from a Secret, optional");
});

t.test("the ConfigMap is mounted as a folder, where -c looks", async (t) => {
  const [mount, ...others] = container.volumeMounts;
  t.equal(others.length, 0);
  t.equal(mount?.mountPath, "/etc/graygate");
  t.equal(mount?.subPath, undefined, "no subPath: it would not follow the ..data swap");
  const volume = pod.spec.volumes.find((v) => v.name === mount?.name);
  t.equal(volume?.configMap?.name, manifest<Manifest>("configmap.yaml").metadata.name);
  t.equal(container.args.at(-1), `${mount?.mountPath}/graygate.yaml`, "the ConfigMap's key");
});

t.test("shutdown: preStop, then a drain that fits the grace period", async (t) => {
  const [sleep, seconds] = container.lifecycle.preStop.exec.command;
  t.equal(sleep, "sleep", "node:24-slim has coreutils");
  const preStop = Number(seconds);
  t.ok(preStop >= 5, "long enough for endpoints to drop the pod", { preStop });
  const drain = config.server.drain / 1000;
  t.ok(pod.spec.terminationGracePeriodSeconds > preStop + drain, "grace > preStop + drain", {
    grace: pod.spec.terminationGracePeriodSeconds,
    preStop,
    drain,
  });
});

t.test("resources and a locked-down security context", async (t) => {
  t.match(container.resources, {
    requests: { cpu: String, memory: String },
    limits: { cpu: String, memory: String },
  });
  t.match(pod.spec.securityContext, { runAsNonRoot: true, runAsUser: 1000 });
  t.match(container.securityContext, {
    runAsNonRoot: true,
    runAsUser: 1000,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  });
});

t.test("the Service: the proxy port of the pods", async (t) => {
  const service = manifest<Service>("service.yaml");
  t.ok(selectsPods({ matchLabels: service.spec.selector }), "it selects the pods");
  t.strictSame(
    service.spec.ports.map((p) => p.targetPort),
    ["proxy"],
    "the proxy port only",
  );
});

t.test("the PodDisruptionBudget: one pod at a time", async (t) => {
  const pdb = manifest<Budget>("poddisruptionbudget.yaml");
  t.equal(pdb.apiVersion, "policy/v1");
  t.ok(selectsPods(pdb.spec.selector), "it selects the pods");
  t.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable === 2, "one at a time", pdb.spec);
});

t.test("the HPA: the Deployment, on CPU, from its replicas up", async (t) => {
  const hpa = manifest<Autoscaler>("hpa.yaml");
  t.equal(hpa.apiVersion, "autoscaling/v2");
  t.strictSame(hpa.spec.scaleTargetRef, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    name: deployment.metadata.name,
  });
  t.strictSame(
    hpa.spec.metrics.map((m) => m.resource.name),
    ["cpu"],
  );
  t.equal(hpa.spec.minReplicas, deployment.spec.replicas, "never below the Deployment's replicas");
});

t.test("the PodMonitor: /metrics on the admin port of the pods", async (t) => {
  const monitor = manifest<PodMonitor>("podmonitor.yaml");
  t.equal(monitor.apiVersion, "monitoring.coreos.com/v1");
  t.ok(selectsPods(monitor.spec.selector), "it selects the pods");
  t.match(monitor.spec.podMetricsEndpoints, [{ port: "admin", path: "/metrics" }]);
});

t.test("the ConfigMap's graygate.yaml: two in-cluster upstreams and the three rules", async (t) => {
  t.strictSame(Object.keys(config.upstreams).length, 2);
  for (const upstream of Object.values(config.upstreams)) {
    t.match(upstream.targets, [/^http:\/\/[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local:\d+$/]);
  }
  t.ok(config.server.trustedProxies.length > 0, "the pod network is trusted");
  const [route] = config.routes;
  t.strictSame(
    route?.rules.map((r) => Object.keys(r.when ?? {}).sort()),
    [["header", "ip"], ["cookie"], ["hash"]],
    "a header force (from an address range), an opt-out cookie, a sticky hash",
  );
});

t.test("graygate validate accepts it (a real process)", async (t) => {
  const file = embeddedConfigFile(t);
  const run = await expectExit(t, ["validate", file], 0);
  t.equal(run.stdout, `${file}: ok\n`);
  await expectExit(t, ["validate", file], 0, { GRAYGATE_ADMIN_TOKEN: "from-a-secret" });
});

t.test("graygate explain: the rules route as their comments say", async (t) => {
  const file = embeddedConfigFile(t);
  const explain = async (...args: string[]) => {
    const run = await expectExit(
      t,
      ["explain", "-c", file, "--path", "/v1/orders", "--json", ...args],
      0,
    );
    return JSON.parse(run.stdout) as { version: string; rule: string; hash?: object };
  };
  t.match(await explain("-H", "x-canary: always", "--ip", "10.50.1.2"), {
    version: "canary",
    rule: "qa-force",
  });
  t.match(await explain("-H", "x-canary: always", "--ip", "192.0.2.1"), {
    version: "stable",
    rule: "default",
  });
  t.match(
    await explain("--cookie", "canary=never", "-H", "x-canary: always", "--ip", "192.0.2.1"),
    {
      version: "stable",
      rule: "opt-out",
    },
  );
  const user = await explain("-H", "x-user-id: user-7", "--ip", "192.0.2.1");
  t.match(user.hash, { key: "header:x-user-id", value: "user-7", threshold: 500 }, "sticky 5%");
});
