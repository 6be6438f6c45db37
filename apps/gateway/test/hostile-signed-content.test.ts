import fc from "fast-check";
import { EARLIEST_EVENT_TIME_MS, LATEST_TIME_MS } from "@subgate/schema";
import { eventually, signStripePayload, subscriptionEvent } from "@subgate/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.ts";
import {
  ADMIN_TOKEN,
  STRIPE_SECRET,
  apiClient,
  createStripeApp,
  createTestEnvironment,
  errorCollectingLogger,
  postToIngress,
  type TestEnvironment,
} from "./harness.ts";

/*
 * Bodies signed with the app's real secret, so every one gets past verification, whose content is
 * hostile: NUL and lone surrogates in any string, times at and beyond subgate's windows, deep
 * nesting, huge numbers, wrong types. A signature proves origin, not sanity. Whatever they hold:
 * - the ingress answers 200 (stored) or 400 (refused, in the API's error shape), never a 5xx;
 * - every stored one ends processed (or untracked, ignored, unresolved) or failed with a reason,
 *   within a bounded time: none stays pending;
 * - afterwards every API route still answers for every app, and nothing was logged as an error
 *   (the content is the store's fault, logged at warn; an error would be a bug of subgate's).
 * hostile-input.test.ts does the same for requests whose signature does not verify.
 */

// CI replays one fixed seed; elsewhere each run explores new inputs. FC_SEED=<n> replays a failure.
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : process.env.CI ? 20_261_201 : undefined;
if (seed !== undefined) fc.configureGlobal({ seed });

let env: TestEnvironment;
let gateway: Gateway;
const errorLogs: unknown[] = [];
let apps: Array<Awaited<ReturnType<typeof createStripeApp>>>;
const TRACKED = "sub_hostile_signed_tracked";

beforeAll(async () => {
  env = await createTestEnvironment();
  // Collected, not printed: the last check asserts there are none, and shows them if there are.
  gateway = await startGateway(env.config, "all", errorCollectingLogger(errorLogs));
  apps = [await createStripeApp(gateway), await createStripeApp(gateway)];
  for (const app of apps) {
    expect((await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: TRACKED })).status).toBe(
      201,
    );
  }
});

afterAll(async () => {
  await gateway?.close();
  await env?.close();
});

// ---------------------------------------------------------------------------------------------
// Hostile values for any place of a real event.

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const hostileText = fc.oneof(
  fc.string({
    unit: fc.oneof(
      fc.constantFrom("\u0000", "\uFFFD", "\u202E", "%", "\\", '"'),
      loneSurrogate,
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    ),
    maxLength: 20,
  }),
  fc.constantFrom("", " ", "\u0000", "sub_\u0000", "\ud800", "prod_\udfff", "x".repeat(600), "customer.subscription.deleted"),
);

const seconds = (ms: number) => Math.floor(ms / 1000);
/** Times around every window edge, in seconds (Stripe's unit) and as if someone sent milliseconds. */
function timeValues(): number[] {
  const now = Date.now();
  const edges = [0, EARLIEST_EVENT_TIME_MS, now + 3_600_000, LATEST_TIME_MS, 8.64e15];
  return [
    ...edges.flatMap((ms) => [seconds(ms) - 1, seconds(ms), seconds(ms) + 1]),
    ...edges.map((ms) => ms),
    -1,
    9_007_199_254_740_991,
    9_007_199_254_740_992,
    1e21,
    1e308,
    -1e308,
    1.5,
    -0,
  ];
}

/** Placeholder replaced by deep nesting in the JSON text (JSON.stringify itself would recurse). */
const DEEP = "\u0001deep\u0001";
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileText },
  { weight: 3, arbitrary: fc.constantFrom(...timeValues()) },
  // biome-ignore lint/correctness/noPrecisionLoss: numbers beyond double precision are the point
  { weight: 1, arbitrary: fc.constantFrom(2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e300, -1e300, 123456789012345678901234567890) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 4_000 }).map((depth) => `${DEEP}${depth}`) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, {}, [], [null], { object: "subscription" }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** Every path into a value: object keys and array indexes, leaves and inner nodes alike. */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
}

function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: unknown = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return; // an earlier edit replaced the branch
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node === "object" && node !== null) (node as Record<string, unknown>)[path.at(-1) as string] = value;
}

function bodyText(event: Record<string, unknown>): string {
  return JSON.stringify(event).replace(new RegExp(`"${DEEP}(\\d+)"`, "g"), (_match, depth: string) => {
    const n = Number(depth);
    return n % 2 === 0 ? `${"[".repeat(n)}${"]".repeat(n)}` : `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
  });
}

const base = (subscriptionId: string) =>
  subscriptionEvent({ subscriptionId, cancelAtPeriodEnd: true, previousAttributes: { cancel_at_period_end: false } });
const PATHS = pathsOf(base(TRACKED));

describe("stripe ingress, bodies signed with the real secret whose content is hostile", () => {
  it("answers 200 or 400, never a 5xx; everything stored ends processed or failed with a reason; every route still answers", async () => {
    const stored = new Set<string>();
    let refused = 0;
    let count = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...PATHS), hostileValue), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.nat({ max: 1 }),
        async (edits, tracked, appIndex) => {
          const app = apps[appIndex] as (typeof apps)[number];
          const event = base(tracked ? TRACKED : `sub_hostile_${count}`);
          event.id = `evt_hostile_signed_${count++}`;
          for (const [path, value] of edits) setAt(event, path, value);
          const body = bodyText(event);
          const answer = await postToIngress(gateway, app.stripeUrl, body, { "stripe-signature": signStripePayload(body, STRIPE_SECRET) });
          const where = `${JSON.stringify(edits).slice(0, 400)} -> ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`;
          expect([200, 400], where).toContain(answer.status);
          if (answer.status === 400) {
            refused++;
            expect(answer.body, where).toEqual({
              error: { code: "malformed_body", message: expect.any(String), request_id: answer.requestId },
            });
            return;
          }
          expect(["stored", "duplicate"], where).toContain(answer.body.status);
          if (answer.body.status === "stored") stored.add(answer.body.notification_id);
        },
      ),
      { numRuns: 200 },
    );
    // Both outcomes were exercised: the property is not only about refusals.
    expect(stored.size).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);

    const rows = await eventually(
      async () => {
        const found = await gateway.db.notification.findMany({ where: { id: { in: [...stored] } } });
        return found.every((row) => row.state !== "pending") ? found : undefined;
      },
      60_000,
      "every stored notification processed or failed",
    );
    expect(rows).toHaveLength(stored.size);
    for (const row of rows) {
      expect(["processed", "untracked", "ignored", "unresolved", "failed"]).toContain(row.state);
      if (row.state === "failed" || row.state === "unresolved") expect(row.lastError, row.id).toMatch(/\S/);
    }

    for (const app of apps) {
      const { appId, api } = app;
      const subscriptions = await api.get(`/v1/apps/${appId}/subscriptions?limit=100`);
      expect(subscriptions.status).toBe(200);
      for (const subscription of subscriptions.body.data) {
        expect((await api.get(`/v1/apps/${appId}/subscriptions/${subscription.id}`)).status).toBe(200);
      }
      for (const path of [
        `/v1/apps/${appId}`,
        `/v1/apps/${appId}/notification-status`,
        `/v1/apps/${appId}/notifications?limit=100`,
        `/v1/apps/${appId}/notifications?state=failed`,
        `/v1/apps/${appId}/webhooks`,
      ]) {
        const answer = await api.get(path);
        expect(answer.status, `${path}: ${JSON.stringify(answer.body).slice(0, 300)}`).toBe(200);
      }
      expect((await api.post(`/v1/apps/${appId}/subscriptions`, { store: "stripe", store_subscription_id: TRACKED })).status).toBe(200);
      expect((await apiClient(gateway.url as string, ADMIN_TOKEN).get(`/v1/apps/${appId}`)).status).toBe(200);
    }
    expect(errorLogs).toEqual([]);
  }, 180_000);
});
