import { describe, expect, it } from "vitest";
import { eventually, subscriptionEvent } from "@subgate/testing";
import { ADMIN_TOKEN, apiClient, createStripeApp, sendStripeEvent, useGatewayWithReceiver } from "./harness.ts";

/** `GET /v1/apps/{id}/notifications`: the app's inbox, newest first, paginated, filtered by state and store. */

const context = useGatewayWithReceiver();

describe("GET /v1/apps/{id}/notifications", () => {
  it("lists the app's notifications newest first, page by page, each once, with their state and last error", async () => {
    const { gateway } = context;
    const app = await createStripeApp(gateway);
    const sent: string[] = [];
    for (let n = 0; n < 7; n++) {
      const answer = await sendStripeEvent(gateway, app.stripeUrl, subscriptionEvent({ subscriptionId: `sub_inbox_${n}` }));
      expect(answer.status).toBe(200);
      sent.push(answer.body.notification_id);
    }
    await eventually(
      async () => (await gateway.db.notification.count({ where: { appId: app.appId, state: "untracked" } })) === 7,
      15_000,
      "all untracked",
    );

    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: any } = await app.api.get(
        `/v1/apps/${app.appId}/notifications?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor);
    // Each once, newest receipt first (ties, within one millisecond, by id).
    const stored = await gateway.db.notification.findMany({
      where: { appId: app.appId },
      orderBy: [{ receivedAt: "desc" }, { id: "desc" }],
    });
    expect(seen.map((row) => row.id)).toEqual(stored.map((row) => row.id));
    expect(new Set(seen.map((row) => row.id))).toEqual(new Set(sent));
    expect(seen.map((row) => row.received_at)).toEqual([...seen.map((row) => row.received_at)].sort().reverse());
    expect(seen.find((row) => row.id === sent.at(-1))).toEqual({
      id: sent.at(-1),
      store: "stripe",
      environment: "sandbox",
      store_notification_id: expect.stringMatching(/^evt_/),
      notification_type: "customer.subscription.updated",
      notification_subtype: null,
      store_subscription_id: "sub_inbox_6",
      received_at: expect.any(String),
      store_event_at: expect.any(String),
      state: "untracked",
      last_error: null,
      attempts: 1,
      next_attempt_at: null,
      processed_at: expect.any(String),
    });
    // Neither the body nor the headers are listed.
    expect(JSON.stringify(seen)).not.toContain("stripe-signature");
  });

  it("filters by state and by store, and refuses filters and cursors it does not know (400)", async () => {
    const { gateway } = context;
    const app = await createStripeApp(gateway);
    const bad = subscriptionEvent({ subscriptionId: "sub_inbox_bad", periodEnd: 9007199254740991 });
    const good = subscriptionEvent({ subscriptionId: "sub_inbox_good" });
    for (const event of [bad, good]) expect((await sendStripeEvent(gateway, app.stripeUrl, event)).status).toBe(200);
    await eventually(
      async () => (await gateway.db.notification.count({ where: { appId: app.appId, state: "pending" } })) === 0,
      15_000,
      "none pending",
    );

    const failed = await app.api.get(`/v1/apps/${app.appId}/notifications?state=failed`);
    expect(failed.body.data.map((row: any) => row.store_notification_id)).toEqual([bad.id]);
    expect(failed.body.data[0].last_error).toMatch(/expires_at_ms/);
    expect((await app.api.get(`/v1/apps/${app.appId}/notifications?store=stripe`)).body.data).toHaveLength(2);
    expect((await app.api.get(`/v1/apps/${app.appId}/notifications?store=app_store`)).body.data).toEqual([]);

    for (const query of ["state=lost", "store=paypal", "limit=0", "limit=101", "cursor=bm9wZQ", "cursor=%00"]) {
      const answer = await app.api.get(`/v1/apps/${app.appId}/notifications?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error.code).toBe("bad_request");
    }
  });

  it("shows an app key its own app's notifications only (404 for another app, like any app it cannot see)", async () => {
    const { gateway } = context;
    const appA = await createStripeApp(gateway);
    const appB = await createStripeApp(gateway);
    expect((await sendStripeEvent(gateway, appB.stripeUrl, subscriptionEvent({ subscriptionId: "sub_of_b" }))).status).toBe(200);
    const cross = await appA.api.get(`/v1/apps/${appB.appId}/notifications`);
    expect(cross.status).toBe(404);
    expect((await appA.api.get(`/v1/apps/${appA.appId}/notifications`)).body.data).toEqual([]);
    const asAdmin = await apiClient(gateway.url as string, ADMIN_TOKEN).get(`/v1/apps/${appB.appId}/notifications`);
    expect(asAdmin.body.data).toHaveLength(1);
  });
});
