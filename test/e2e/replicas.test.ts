/**
 * docs/CONFIG.md's "every replica … puts each user on the same side": two
 * graygate processes on one config file, sharing nothing, send each of 10,000 users to the same version and
 * switch on the same features for them. Both agree with the sticky hash as
 * the spec defines it (murmur3 of "salt:key", computed here with
 * src/routing/bucket.ts), the shares are those configured, and /explain
 * reports the bucket the test computes.
 */
import t from "tap";
import { Pool } from "undici";
import { bucketOf, murmur3 } from "../../src/routing/bucket.ts";
import {
  admin,
  canaryRoute,
  config,
  type Graygate,
  serving,
  startUpstream,
  writeConfig,
} from "../proxy/helpers.ts";

const USERS = 10_000;
const IN_FLIGHT = 32;
const SALT = "replicas-2026-11";
const CANARY_PERCENT = 25;
const FEATURE = "new-checkout";
const FEATURE_PERCENT = 40;
/** Allowed distance of a share from its percentage, in points. */
const TOLERANCE = 1.5;

/** An upstream that answers `{version, features}`: its name and the x-graygate-features it got. */
async function startNamed(name: string) {
  return startUpstream(t, (req, res) => {
    req.resume();
    req.on("end", () => {
      const body = JSON.stringify({ version: name, features: req.headers["x-graygate-features"] });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
  });
}

const stable = await startNamed("stable");
const canary = await startNamed("canary");
const file = writeConfig(
  t,
  config(
    [
      canaryRoute("api", stable.url, canary.url, {
        rules: [
          {
            name: "quarter",
            when: {
              hash: { key: "header:x-user-id", percent: CANARY_PERCENT, salt: SALT },
            },
            to: "canary",
          },
        ],
      }),
    ],
    {
      // No salt: a feature's hash is salted with the feature's name (docs/CONFIG.md).
      features: {
        [FEATURE]: { when: { hash: { key: "header:x-user-id", percent: FEATURE_PERCENT } } },
      },
    },
  ),
);
const replicas = [
  await serving(t, ["serve", "-c", file]),
  await serving(t, ["serve", "-c", file]),
] as const;

/** What one replica did for one user. */
interface Served {
  status: number;
  /** x-graygate-version on the response. */
  version: string;
  /** The upstream that answered (its own name, from the body). */
  upstream: string;
  /** The x-graygate-features the upstream received ("" when absent). */
  features: string;
}

const ids = Array.from({ length: USERS }, (_, i) => `user-${i}`);

/** The spec's sticky hash, computed here: bucket of murmur3(salt + ":" + key). */
const bucket = (salt: string, key: string) => bucketOf(murmur3(`${salt}:${key}`));
const expectedVersion = (id: string) =>
  bucket(SALT, id) < CANARY_PERCENT * 100 ? "canary" : "stable";
const expectedFeatures = (id: string) =>
  bucket(FEATURE, id) < FEATURE_PERCENT * 100 ? FEATURE : "";

/** GET / as user `id` through a keep-alive pool. */
async function ask(pool: Pool, id: string): Promise<Served> {
  const response = await pool.request({
    method: "GET",
    path: "/",
    headers: { "x-user-id": id },
  });
  const text = await response.body.text();
  let body: { version?: string; features?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // A graygate error answer or garbage: the fields stay empty, the status tells.
  }
  return {
    status: response.statusCode,
    version: String(response.headers["x-graygate-version"]),
    upstream: body.version ?? "",
    features: body.features ?? "",
  };
}

/** Every user sent to every replica, IN_FLIGHT users at a time; results[replica][user]. */
async function askEveryone(targets: readonly Graygate[]): Promise<Served[][]> {
  const pools = targets.map(
    (gg) => new Pool(gg.proxy, { connections: IN_FLIGHT, keepAliveTimeout: 10_000 }),
  );
  t.teardown(() => Promise.all(pools.map((pool) => pool.destroy())));
  const results: Served[][] = targets.map(() => new Array<Served>(USERS));
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < USERS; i = next++) {
      const id = ids[i] as string;
      const answers = await Promise.all(pools.map((pool) => ask(pool, id)));
      answers.forEach((answer, r) => {
        (results[r] as Served[])[i] = answer;
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await Promise.all(pools.map((pool) => pool.close()));
  return results;
}

const [first, second] = (await askEveryone(replicas)) as [Served[], Served[]];

/** The first few ids for which `differs` holds, with what each side had. */
function mismatches(differs: (i: number) => boolean, show: (i: number) => unknown) {
  const found: number[] = [];
  for (let i = 0; i < USERS; i++) if (differs(i)) found.push(i);
  return {
    count: found.length,
    first: found.slice(0, 10).map((i) => ({ id: ids[i], ...(show(i) as object) })),
  };
}

const at = (list: Served[], i: number) => list[i] as Served;

t.test("every request was answered by an upstream", async (t) => {
  for (const [name, list] of [
    ["first", first],
    ["second", second],
  ] as const) {
    const bad = mismatches(
      (i) => at(list, i).status !== 200 || at(list, i).upstream !== at(list, i).version,
      (i) => at(list, i),
    );
    t.equal(bad.count, 0, `${name} replica: 200, and x-graygate-version names the upstream`, {
      first: bad.first,
    });
  }
});

t.test("both replicas chose the same version for every user", async (t) => {
  const bad = mismatches(
    (i) => at(first, i).version !== at(second, i).version,
    (i) => ({ first: at(first, i).version, second: at(second, i).version }),
  );
  t.equal(bad.count, 0, `same version for all ${USERS} users`, { first: bad.first });
});

t.test("both replicas sent the same features upstream for every user", async (t) => {
  const bad = mismatches(
    (i) => at(first, i).features !== at(second, i).features,
    (i) => ({ first: at(first, i).features, second: at(second, i).features }),
  );
  t.equal(bad.count, 0, `same x-graygate-features for all ${USERS} users`, { first: bad.first });
});

t.test("the decisions are the spec's hash, computed independently", async (t) => {
  for (const [name, list] of [
    ["first", first],
    ["second", second],
  ] as const) {
    const versions = mismatches(
      (i) => at(list, i).version !== expectedVersion(ids[i] as string),
      (i) => ({ got: at(list, i).version, want: expectedVersion(ids[i] as string) }),
    );
    t.equal(versions.count, 0, `${name}: version = bucket("${SALT}:id") < 2500`, {
      first: versions.first,
    });
    const features = mismatches(
      (i) => at(list, i).features !== expectedFeatures(ids[i] as string),
      (i) => ({ got: at(list, i).features, want: expectedFeatures(ids[i] as string) }),
    );
    t.equal(features.count, 0, `${name}: ${FEATURE} = bucket("${FEATURE}:id") < 4000`, {
      first: features.first,
    });
  }
});

t.test("the shares are the configured percentages", async (t) => {
  const share = (test: (s: Served) => boolean) => (first.filter(test).length * 100) / USERS;
  const canaryShare = share((s) => s.version === "canary");
  const featureShare = share((s) => s.features.split(",").includes(FEATURE));
  t.ok(
    Math.abs(canaryShare - CANARY_PERCENT) <= TOLERANCE,
    `canary share ${canaryShare}% is within ${TOLERANCE} points of ${CANARY_PERCENT}%`,
  );
  t.ok(
    Math.abs(featureShare - FEATURE_PERCENT) <= TOLERANCE,
    `${FEATURE} share ${featureShare}% is within ${TOLERANCE} points of ${FEATURE_PERCENT}%`,
  );
});

t.test("/explain reports the bucket computed from murmur3", async (t) => {
  // A few users on each side of the threshold, and the first and last.
  const canaries = ids.filter((id) => expectedVersion(id) === "canary").slice(0, 3);
  const stables = ids.filter((id) => expectedVersion(id) === "stable").slice(0, 3);
  const sample = [...new Set([ids[0] as string, ...canaries, ...stables, ids.at(-1) as string])];
  for (const id of sample) {
    const i = ids.indexOf(id);
    for (const [r, gg] of replicas.entries()) {
      const query = new URLSearchParams({ path: "/", header: `x-user-id:${id}` });
      const answer = await admin(gg, `/explain?${query}`);
      t.equal(answer.status, 200, `${id} on replica ${r}: /explain answers`);
      const body = JSON.parse(answer.text) as {
        route: string;
        version: string;
        rule: string;
        features: string[];
        hash?: { key: string; value: string; bucket: number; threshold: number };
      };
      const served = at(r === 0 ? first : second, i);
      t.strictSame(
        body.hash,
        {
          key: "header:x-user-id",
          value: id,
          bucket: bucket(SALT, id),
          threshold: CANARY_PERCENT * 100,
        },
        `${id} on replica ${r}: bucket ${bucket(SALT, id)}`,
      );
      t.equal(body.version, served.version, `${id} on replica ${r}: the version it served`);
      t.equal(body.rule, served.version === "canary" ? "quarter" : "default");
      t.strictSame(body.features, served.features === "" ? [] : served.features.split(","));
    }
  }
});
