import { describe, expect, it } from "vitest";
import { eventually } from "@subgate/testing";
import { signAppleNotification, TEST_BUNDLE_ID } from "@subgate/testing/apple";
import { createAppWithAppStoreKey, startReplay, useAppStoreApiFixture } from "./app-store-api-fixture.ts";
import { ADMIN_TOKEN, apiClient, postToIngress, useGatewayWithReceiver } from "./harness.ts";

/*
 * Backfill from Apple's notification history: every page of a range, each notification verified and
 * stored like a delivered one, duplicates recognised, `last_received_at` left alone, and the
 * replay's progress and outcome readable through the API.
 */

const HOUR_MS = 3_600_000;
const { chain, key, strangerKey, sandbox, config } = await useAppStoreApiFixture();
const context = useGatewayWithReceiver({
  ...config,
  // A replay whose fetch failed tries again after this (Apple's outage, shortened).
  notificationRetryScheduleMs: [300],
});
const createApp = (apiKey: typeof key = key) => createAppWithAppStoreKey(context.gateway, apiKey);

/** A DID_RENEW about `originalTransactionId`, as Apple would have sent it at `sentAt`. */
let serial = 0;
function renewal(originalTransactionId: string, sentAt: number, bundleId = TEST_BUNDLE_ID) {
  serial += 1;
  return signAppleNotification(chain, {
    notificationType: "DID_RENEW",
    environment: "Sandbox",
    bundleId,
    signedDate: sentAt,
    transaction: { originalTransactionId, transactionId: `30000000${String(serial).padStart(8, "0")}`, bundleId },
    renewal: { originalTransactionId },
  });
}

async function replayUntilSettled(app: Awaited<ReturnType<typeof createApp>>, range: { start: number; end: number }) {
  const started = await startReplay(app, range.start, range.end);
  expect(started).toMatchObject({ id: expect.stringMatching(/^rpl_/), status: "running", fetched: 0 });
  return eventually(
    async () => {
      const replay = await app.api.get(`/v1/apps/${app.appId}/apple/history-replays/${started.id}`);
      expect(replay.status).toBe(200);
      return replay.body.status === "running" ? undefined : replay.body;
    },
    20_000,
    "replay settled",
  );
}

/** Waits until the app's inbox holds `count` Apple notifications, none of them pending. */
async function settledInbox(app: Awaited<ReturnType<typeof createApp>>, count: number) {
  return eventually(
    async () => {
      const rows = (await app.api.get(`/v1/apps/${app.appId}/notifications?store=app_store&limit=100`)).body.data;
      return rows.length === count && rows.every((row: any) => row.state !== "pending") ? rows : undefined;
    },
    15_000,
    `${count} notifications processed`,
  );
}

const statusOf = async (app: Awaited<ReturnType<typeof createApp>>) =>
  (await app.api.get(`/v1/apps/${app.appId}/notification-status`)).body.stores.find(
    (row: any) => row.store === "app_store" && row.environment === "sandbox",
  );

describe("Apple history replays", () => {
  it("replays every page of a range once: new ones stored and processed, known ones duplicates, foreign ones refused", async () => {
    const app = await createApp();
    await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: context.receiver.url });
    const tracked = "2000000000000777";
    expect((await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "app_store", store_subscription_id: tracked })).status).toBe(
      201,
    );

    const end = Date.now() - 60_000;
    const start = end - 24 * HOUR_MS;
    const at = (i: number) => start + (i + 1) * 30 * 60_000;
    const ours = [0, 1, 2, 3, 4].map((i) => ({ signed: renewal(tracked, at(i)), sentAt: at(i) }));
    const untracked = Array.from({ length: 19 }, (_, i) => ({
      signed: renewal(`2000000000100${String(i).padStart(3, "0")}`, at(5 + i)),
      sentAt: at(5 + i),
    }));
    const foreign = { signed: renewal("2000000000000999", at(30), "com.other.app"), sentAt: at(30) };
    const beforeRange = { signed: renewal(tracked, start - HOUR_MS), sentAt: start - HOUR_MS };
    sandbox.addHistory(
      [...ours, ...untracked, foreign, beforeRange].map(({ signed, sentAt }) => ({ signedPayload: signed.signedPayload, sentAt })),
    );

    // Two of them did reach subgate at the time: the replay must find them stored already.
    for (const { signed } of ours.slice(0, 2)) expect((await postToIngress(context.gateway, app.appleUrl, signed.body)).status).toBe(200);
    await settledInbox(app, 2);
    const receivedBefore = (await statusOf(app)).last_received_at;
    expect(receivedBefore).not.toBeNull();

    const replay = await replayUntilSettled(app, { start, end });
    expect(replay).toMatchObject({ status: "done", pages: 2, fetched: 25, stored: 22, duplicates: 2, rejected: 1, error: null });
    expect(replay.reached_at).toBe(new Date(end).toISOString());

    // The three the app missed arrive as events of its tracked subscription, after the two it had.
    const events = await eventually(
      async () => {
        const mine = context.receiver.delivered.map((request) => JSON.parse(request.body).event).filter((e: any) => e.app_id === app.appId);
        return mine.length >= 5 ? mine : undefined;
      },
      15_000,
      "five renewals delivered",
    );
    expect(events.map((e: any) => e.type)).toEqual(Array(5).fill("RENEWAL"));
    await settledInbox(app, 24);
    // Replayed notifications never move last_received_at, though three concerned a tracked subscription.
    expect((await statusOf(app)).last_received_at).toBe(receivedBefore);

    // A second replay of the same range stores nothing.
    const again = await replayUntilSettled(app, { start, end });
    expect(again).toMatchObject({ status: "done", fetched: 25, stored: 0, duplicates: 24, rejected: 1 });
  });

  it("rides out Apple answering 503 and finishes with the same counts", async () => {
    const app = await createApp();
    const end = Date.now() - 60_000;
    const start = end - HOUR_MS;
    const entries = Array.from({ length: 3 }, (_, i) => ({
      signedPayload: renewal(`2000000000200${i}`, start + (i + 1) * 60_000).signedPayload,
      sentAt: start + (i + 1) * 60_000,
    }));
    sandbox.addHistory(entries);
    // More 503s than the client retries on its own: the replay itself must come back.
    sandbox.failNext(4, { status: 503, body: { errorCode: 5000000, errorMessage: "An unknown error occurred." } });
    const replay = await replayUntilSettled(app, { start, end });
    expect(replay).toMatchObject({ status: "done", fetched: 3, stored: 3, duplicates: 0, error: null });
  });

  it("fails a replay Apple refuses the key for, saying which credentials to check", async () => {
    const app = await createApp(strangerKey);
    const replay = await replayUntilSettled(app, { start: Date.now() - HOUR_MS, end: Date.now() - 1000 });
    expect(replay.status).toBe("failed");
    expect(replay.error).toMatch(/HTTP 401.*apple\.issuer_id, apple\.key_id and apple\.private_key/);
    expect(replay.finished_at).not.toBeNull();
  });

  it("refuses ranges Apple cannot answer and apps without a key, before any replay exists", async () => {
    const app = await createApp();
    const now = Date.now();
    const post = (body: unknown) => app.api.post(`/v1/apps/${app.appId}/apple/history-replays`, body);
    const iso = (ms: number) => new Date(ms).toISOString();
    const backwards = await post({ environment: "sandbox", start: iso(now - 1000), end: iso(now - HOUR_MS) });
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.message).toBe("end: must be after start");
    const tooOld = await post({ environment: "sandbox", start: iso(now - 31 * 24 * HOUR_MS), end: iso(now - 1000) });
    expect(tooOld.status).toBe(400);
    expect(tooOld.body.error.message).toContain("30 days");
    expect((await post({ environment: "production", start: iso(now - 31 * 24 * HOUR_MS), end: iso(now - 1000) })).status).toBe(202);
    expect((await post({ environment: "sandbox", start: "yesterday", end: iso(now) })).status).toBe(400);
    expect((await post({ environment: "sandbox", start: iso(now - HOUR_MS), end: iso(now), extra: 1 })).status).toBe(400);

    const admin = apiClient(context.gateway.url as string, ADMIN_TOKEN);
    const keyless = await admin.post("/v1/apps", { name: "No key", apple: { bundle_id: TEST_BUNDLE_ID } });
    const refused = await admin.post(`/v1/apps/${keyless.body.id}/apple/history-replays`, {
      environment: "sandbox",
      start: iso(now - HOUR_MS),
      end: iso(now),
    });
    expect(refused.status).toBe(409);

    // Another app's replay, like one that does not exist, is not found.
    const mine = await post({ environment: "sandbox", start: iso(now - HOUR_MS), end: iso(now - 1000) });
    expect((await admin.get(`/v1/apps/${keyless.body.id}/apple/history-replays/${mine.body.id}`)).status).toBe(404);
    expect((await app.api.get(`/v1/apps/${app.appId}/apple/history-replays/rpl_nope`)).status).toBe(404);
    expect((await app.api.get(`/v1/apps/${app.appId}/apple/history-replays/not-an-id`)).status).toBe(400);
  });
});
