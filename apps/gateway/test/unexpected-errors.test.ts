import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, LocalStripeApi, subscriptionEvent } from "@subgate/testing";
import { refundEvent, SUBSCRIPTION_ID } from "@subgate/testing/stripe-objects";
import type { Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, apiClient, createTestEnvironment, sendStripeEvent, STRIPE_SECRET, type TestEnvironment } from "./harness.ts";

/*
 * An error subgate does not expect while it records a notification (here: a trigger in the real
 * database that raises, as a broken extension or a mistaken migration might) is retried with its
 * text in last_error, and fails the notification at the 8th; it never leaves it pending for good.
 * Those errors are counted apart from a store API's outages, which are waited out without limit.
 */

const API_KEY = "rk_test_51QmZx4Hq2Lk9TbVunexpected";
const stripeApi = new LocalStripeApi(API_KEY);
let env: TestEnvironment;
let gateway: Gateway;
let admin: pg.Client;

beforeAll(async () => {
  await stripeApi.start();
  env = await createTestEnvironment({ stripeApiBaseUrl: stripeApi.url, notificationRetryScheduleMs: [50] });
  gateway = await env.start("all");
  admin = new pg.Client({ connectionString: env.database.url });
  await admin.connect();
  // Raises for the events of the subscriptions the test names in `poisoned`, as many times as it
  // says. The count is a sequence: the raise rolls back the transaction, but not nextval().
  await admin.query(`
    CREATE TABLE poisoned (subscription_key text PRIMARY KEY, times int NOT NULL, counter regclass NOT NULL);
    CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE entry poisoned;
    BEGIN
      SELECT p.* INTO entry FROM poisoned p JOIN subscriptions s ON s.store_subscription_id = p.subscription_key WHERE s.id = NEW.subscription_id;
      IF FOUND AND nextval(entry.counter) <= entry.times THEN RAISE EXCEPTION 'poisoned by the test' USING ERRCODE = 'P0001'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison();
    CREATE SEQUENCE always_counter; CREATE SEQUENCE once_counter;`);
});

afterAll(async () => {
  await admin?.end();
  await env?.close();
  await stripeApi.close();
});

async function appTracking(subscriptionId: string) {
  const created = await apiClient(gateway.url as string, ADMIN_TOKEN).post("/v1/apps", {
    name: "Unexpected",
    stripe: { webhook_secrets: [STRIPE_SECRET], api_key: API_KEY },
  });
  const app = {
    appId: created.body.id as string,
    stripeUrl: created.body.ingress.stripe.url as string,
    api: apiClient(gateway.url as string, created.body.api_key as string),
  };
  expect(
    (await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: subscriptionId })).status,
  ).toBe(201);
  return app;
}

describe("an unexpected error while a notification is recorded", () => {
  it("is retried with its text in last_error, then fails the notification at the 8th", async () => {
    await admin.query("INSERT INTO poisoned VALUES ('sub_always_poisoned', 1000, 'always_counter')");
    const app = await appTracking("sub_always_poisoned");
    const event = subscriptionEvent({
      subscriptionId: "sub_always_poisoned",
      cancelAtPeriodEnd: true,
      previousAttributes: { cancel_at_period_end: false },
    });
    const answer = await sendStripeEvent(gateway, app.stripeUrl, event);
    expect(answer.status).toBe(200);

    const waiting = await eventually(
      async () => {
        const row = await gateway.db.notification.findUniqueOrThrow({ where: { id: answer.body.notification_id } });
        return row.state === "pending" && row.lastError ? row : undefined;
      },
      15_000,
      "a retry waiting with its reason",
    );
    expect(waiting.lastError).toMatch(/^unexpected error \(\d of 8\): PostgreSQL error P0001: poisoned by the test$/);

    const failed = await eventually(
      async () => {
        const row = await gateway.db.notification.findUniqueOrThrow({ where: { id: answer.body.notification_id } });
        return row.state === "failed" ? row : undefined;
      },
      30_000,
      "failed at the 8th",
    );
    expect(failed).toMatchObject({ unexpectedErrors: 8, attempts: 8, nextAttemptAt: null });
    expect(failed.lastError).toBe("unexpected error (8 of 8, the last): PostgreSQL error P0001: poisoned by the test");
    expect(await gateway.db.event.count({ where: { notificationId: failed.id } })).toBe(0);
  });

  it("counts apart from a store API's outages: a notification that waited out Stripe's API is not failed by one unexpected error", async () => {
    await admin.query(`INSERT INTO poisoned VALUES ('${SUBSCRIPTION_ID}', 1, 'once_counter')`);
    const app = await appTracking(SUBSCRIPTION_ID);
    stripeApi.failuresLeft = 9; // nine attempts spent waiting for the API, more than the limit
    const answer = await sendStripeEvent(gateway, app.stripeUrl, refundEvent("legacy"));
    expect(answer.status).toBe(200);
    const done = await eventually(
      async () => {
        const row = await gateway.db.notification.findUniqueOrThrow({ where: { id: answer.body.notification_id } });
        return row.state === "pending" ? undefined : row;
      },
      30_000,
      "the refund processed",
    );
    expect(done).toMatchObject({ state: "processed", unexpectedErrors: 1, lastError: null });
    expect(done.attempts).toBe(11);
  });
});
