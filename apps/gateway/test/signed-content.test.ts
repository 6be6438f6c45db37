import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { newId } from "@subgate/core";
import { eventually, subscriptionEvent } from "@subgate/testing";
import { createStripeApp, sendStripeEvent, useGatewayWithReceiver } from "./harness.ts";

/*
 * A valid signature proves where a body came from, not that subgate can use what it says. Signed
 * content with times outside subgate's windows, or text PostgreSQL cannot hold, is refused at the
 * ingress (400, recorded in the app's status) when it is in what verification establishes, and ends
 * `failed` with its reason when it only shows in the normalization. Nothing of it may make any API
 * route answer 500, and no stored body stays pending.
 */

const context = useGatewayWithReceiver();
type Event = Record<string, any>;

const now = () => Math.floor(Date.now() / 1000);
const year = (y: number) => Math.floor(Date.UTC(y, 0, 1) / 1000);
const subscriptionOf = (event: Event): Event => event.data.object;

describe("signed bodies the ingress cannot store", () => {
  const cases: Array<[string, (event: Event) => void, RegExp]> = [
    [
      "an event time in year 10000",
      (e) => (e.created = year(10000)),
      /the event time \+010000-01-01T00:00:00\.000Z is more than 60 minutes after/,
    ],
    ["an event time past JavaScript's Date range", (e) => (e.created = 9e15), /the event time is not a valid time/],
    ["an event time before 2000", (e) => (e.created = year(2000) - 1), /the event time 1999-12-31T23:59:59\.000Z is before 2000-01-01/],
    [
      "an event time two hours ahead",
      (e) => (e.created = now() + 7200),
      /the event time .* is more than 60 minutes after subgate received the body/,
    ],
    ["a NUL in the event id", (e) => (e.id = "evt_\u0000nul"), /the notification id contains NUL characters or unpaired surrogates/],
    ["a NUL in the type", (e) => (e.type = "customer.subscription.updated\u0000"), /the notification type contains NUL/],
    ["a NUL in the subscription id", (e) => (subscriptionOf(e).id = "sub_\u0000nul"), /the subscription id contains NUL/],
    [
      "a lone surrogate in api_version",
      (e) => (e.api_version = "2025-03-31\ud800"),
      /api_version contains NUL characters or unpaired surrogates/,
    ],
    ["a lone surrogate in the type", (e) => (e.type = "customer.subscription.updated\udfff"), /the notification type contains NUL/],
    ["a lone surrogate in the subscription id", (e) => (subscriptionOf(e).id = "sub_\ud83d"), /the subscription id contains NUL/],
    ["an event id of 300 characters", (e) => (e.id = `evt_${"x".repeat(296)}`), /the notification id is longer than 255 characters/],
    [
      "a subscription id of 600 characters",
      (e) => (subscriptionOf(e).id = `sub_${"x".repeat(596)}`),
      /the subscription id is longer than 512 characters/,
    ],
  ];

  it.each(cases)("refuses %s with 400, records the reason, and stores nothing", async (_what, mutate, reason) => {
    const { gateway } = context;
    const app = await createStripeApp(gateway);
    const event = subscriptionEvent({ subscriptionId: "sub_signed_hostile" }) as Event;
    mutate(event);
    const answer = await sendStripeEvent(gateway, app.stripeUrl, event);
    expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.error.code).toBe("malformed_body");
    expect(answer.body.error.message).toMatch(/^signature verifies, but /);
    expect(answer.body.error.message).toMatch(reason);
    expect(await gateway.db.notification.count({ where: { appId: app.appId } })).toBe(0);
    const status = await app.api.get(`/v1/apps/${app.appId}/notification-status`);
    const stripe = status.body.stores.find((entry: any) => entry.store === "stripe");
    expect(stripe.last_rejection_reason).toBe(answer.body.error.message);
  });

  it("still takes an event at the edges of the windows (created in 2000, signed now)", async () => {
    const { gateway } = context;
    const app = await createStripeApp(gateway);
    const answer = await sendStripeEvent(gateway, app.stripeUrl, subscriptionEvent({ subscriptionId: "sub_edge", created: year(2000) }));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  });
});

describe("signed bodies whose normalization cannot be stored", () => {
  const cases: Array<[string, (event: Event) => void, RegExp]> = [
    [
      "a period end of 2^53 - 1 seconds",
      (e) => (subscriptionOf(e).items.data[0].current_period_end = 9007199254740991),
      /expires_at_ms|expiration_at_ms/,
    ],
    [
      "a period end in year 2300",
      (e) => (subscriptionOf(e).items.data[0].current_period_end = year(2300)),
      /must be a time no later than 2255-06-05/,
    ],
    [
      "a start date in year 10000",
      (e) => (subscriptionOf(e).start_date = year(10000)),
      /purchased_at_ms: must be a time no later than 2255-06-05/,
    ],
    [
      "a NUL in the product id",
      (e) => (subscriptionOf(e).items.data[0].price.product = "prod_\u0000"),
      /contains NUL characters or unpaired surrogates/,
    ],
    [
      "a lone surrogate in the product id",
      (e) => (subscriptionOf(e).items.data[0].price.product = "prod_\udc00"),
      /contains NUL characters or unpaired surrogates/,
    ],
    ["a negative period end", (e) => (subscriptionOf(e).items.data[0].current_period_end = -1), /unreadable object/],
  ];

  it.each(cases)(
    "%s: stored (200), then failed with the reason; the subscription and every route are unharmed",
    async (_what, mutate, reason) => {
      const { gateway } = context;
      const app = await createStripeApp(gateway);
      const subscriptionId = `sub_${randomBytes(4).toString("hex")}`;
      const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: subscriptionId });
      expect(tracked.status).toBe(201);
      const event = subscriptionEvent({ subscriptionId }) as Event;
      mutate(event);
      const answer = await sendStripeEvent(gateway, app.stripeUrl, event);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);

      const row = await eventually(
        async () => {
          const found = await gateway.db.notification.findUniqueOrThrow({ where: { id: answer.body.notification_id } });
          return found.state === "pending" ? undefined : found;
        },
        15_000,
        "the notification leaves pending",
      );
      expect(row.state).toBe("failed");
      expect(row.lastError).toMatch(reason);

      const failed = await app.api.get(`/v1/apps/${app.appId}/notifications?state=failed`);
      expect(failed.status).toBe(200);
      expect(failed.body.data).toEqual([expect.objectContaining({ id: row.id, state: "failed", last_error: row.lastError })]);
      const subscription = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
      expect(subscription.status).toBe(200);
      expect(subscription.body).toMatchObject({ status: "unknown", last_event_at: null });
      expect((await app.api.get(`/v1/apps/${app.appId}/subscriptions`)).status).toBe(200);
      expect(
        (await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: subscriptionId })).status,
      ).toBe(200);
    },
  );
});

describe("rows stored before subgate checked store times", () => {
  it("are answered without a 500, and do not pin the subscription's state", async () => {
    const { gateway } = context;
    const app = await createStripeApp(gateway);
    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_pinned" });
    // What an earlier subgate wrote for an event dated in year 10000: PostgreSQL keeps the year,
    // JavaScript cannot read it back.
    await gateway.db.$executeRaw`
      UPDATE subscriptions SET last_event_at = '10000-01-01T00:00:00Z', state_at = '10000-01-01T00:00:00Z', status = 'active',
        expires_at = '10000-02-01T00:00:00Z', last_event_type = 'RENEWAL'
      WHERE id = ${tracked.body.id}`;

    const one = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ last_event_at: null, expires_at: null, status: "active" });
    expect((await app.api.get(`/v1/apps/${app.appId}/subscriptions`)).status).toBe(200);
    expect(
      (
        await app.api.post(`/v1/apps/${app.appId}/subscriptions`, {
          store: "stripe",
          store_subscription_id: "sub_pinned",
          app_user_id: "u",
        })
      ).status,
    ).toBe(200);

    // A real cancellation now is not taken for older than year 10000.
    const cancel = subscriptionEvent({
      subscriptionId: "sub_pinned",
      cancelAtPeriodEnd: true,
      previousAttributes: { cancel_at_period_end: false },
    });
    expect((await sendStripeEvent(gateway, app.stripeUrl, cancel)).status).toBe(200);
    const after = await eventually(
      async () => {
        const answer = await app.api.get(`/v1/apps/${app.appId}/subscriptions/${tracked.body.id}`);
        return answer.body.status === "canceled" ? answer.body : undefined;
      },
      15_000,
      "the cancellation applied",
    );
    expect(after).toMatchObject({ status: "canceled", last_event_type: "CANCELLATION", auto_renew: false });
  });

  it("a stored normalization that no longer passes the checks fails its notification when the subscription is tracked; the others apply", async () => {
    const { gateway } = context;
    const app = await createStripeApp(gateway);
    const good = subscriptionEvent({ subscriptionId: "sub_old_rows", type: "customer.subscription.created", created: now() - 60 });
    expect((await sendStripeEvent(gateway, app.stripeUrl, good)).status).toBe(200);
    await eventually(
      async () => (await gateway.db.notification.findFirst({ where: { appId: app.appId, state: "untracked" } })) ?? undefined,
      15_000,
      "untracked",
    );
    // An untracked row as an earlier subgate saved it: its normalization names year 10000.
    const id = newId("notification");
    await gateway.db.notification.create({
      data: {
        id,
        appId: app.appId,
        store: "stripe",
        storeNotificationId: "evt_from_before_the_checks",
        notificationType: "customer.subscription.updated",
        environment: "sandbox",
        subscriptionKey: "sub_old_rows",
        rawBody: new Uint8Array(Buffer.from("{}")),
        headers: {},
        verification: {},
        state: "untracked",
        normalized: {
          kind: "subscription",
          subscriptionKey: "sub_old_rows",
          environment: "sandbox",
          storeEventAt: "+010000-01-01T00:00:00.000Z",
          state: { status: "expired" },
          stateRank: 1,
          events: [{ type: "EXPIRATION", event_timestamp_ms: Date.UTC(10000, 0, 1) }],
        },
      },
    });

    const tracked = await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_old_rows" });
    expect(tracked.status).toBe(201);
    expect(tracked.body).toMatchObject({ status: "active", last_event_type: "INITIAL_PURCHASE" });
    const old = await gateway.db.notification.findUniqueOrThrow({ where: { id } });
    expect(old.state).toBe("failed");
    expect(old.lastError).toMatch(/^the stored normalization cannot be applied: /);
    expect(await gateway.db.event.count({ where: { notificationId: id } })).toBe(0);
  });
});
