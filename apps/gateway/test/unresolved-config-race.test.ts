import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, LocalStripeApi, WebhookReceiver } from "@subgate/testing";
import { refundEvent, SUBSCRIPTION_ID } from "@subgate/testing/stripe-objects";
import { StoreRegistry, type StoreModule } from "@subgate/stores";
import type { Gateway } from "../src/gateway.ts";
import { createStoreRegistryFor } from "../src/gateway.ts";
import { createStripeApp, createTestEnvironment, sendStripeEvent, type TestEnvironment } from "./harness.ts";

/*
 * EVENTS.md, refunds: "When the app's Stripe configuration changes (PATCH /v1/apps/{id} with a
 * stripe block, e.g. adding api_key), its unresolved notifications are processed again, so a refund
 * that arrived before the key still produces its CANCELLATION." Here the refund is being normalized
 * (with the configuration loaded before the key) while the PATCH commits.
 */

const API_KEY = "rk_test_51QmZx4Hq2Lk9TbVreviewRace";

const stripeApi = new LocalStripeApi(API_KEY);
const receiver = new WebhookReceiver();
let env: TestEnvironment;
let gateway: Gateway;

/** Holds charge.refunded normalizations until released; the real adapter does the work. */
let entered: () => void = () => undefined;
const normalizing = new Promise<void>((resolve) => (entered = resolve));
let release: () => void = () => undefined;
const released = new Promise<void>((resolve) => (release = resolve));

beforeAll(async () => {
  await Promise.all([stripeApi.start(), receiver.start()]);
  const stripeApiUrl = stripeApi.url;
  env = await createTestEnvironment({ stripeApiBaseUrl: stripeApiUrl });
  const real = createStoreRegistryFor(env.config);
  const stripe = real.get("stripe")!;
  const holdingStripe: StoreModule = {
    ...stripe,
    bind(stored) {
      const bound = stripe.bind(stored)!;
      return {
        verify: (request) => bound.verify(request),
        normalize: async (notification) => {
          if (notification.notificationType === "charge.refunded") {
            entered();
            await released;
          }
          return bound.normalize(notification);
        },
      };
    },
  };
  const stores = new StoreRegistry(real.all().map((module) => (module.store === "stripe" ? holdingStripe : module)));
  gateway = await env.start("all", { stores });
});

afterAll(async () => {
  release();
  await env?.close();
  await receiver.close();
  await stripeApi.close();
});

describe("a Stripe API key added while a refund is being normalized without it", () => {
  it("the refund is not left unresolved for good", async () => {
    const app = await createStripeApp(gateway);
    expect((await app.api.post(`/v1/apps/${app.appId}/webhooks`, { url: receiver.url })).status).toBe(201);
    expect(
      (await app.api.post(`/v1/apps/${app.appId}/subscriptions`, { store: "stripe", store_subscription_id: SUBSCRIPTION_ID })).status,
    ).toBe(201);

    const refund = refundEvent("legacy");
    expect((await sendStripeEvent(gateway, app.stripeUrl, refund)).status).toBe(200);
    await normalizing; // the worker loaded the keyless configuration and is normalizing

    const patched = await app.api.patch(`/v1/apps/${app.appId}`, { stripe: { api_key: API_KEY } });
    expect(patched.status).toBe(200);
    expect(patched.body.stores.stripe).toMatchObject({ api_key_set: true });
    release();

    // The key is there; the refund must end up processed and produce its CANCELLATION.
    const row = await eventually(
      async () => {
        const found = await gateway.db.notification.findFirst({ where: { appId: app.appId } });
        return found && found.state !== "pending" ? found : undefined;
      },
      10_000,
      "the refund leaving pending",
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // sweeps run every 300 ms here
    const after = await gateway.db.notification.findUniqueOrThrow({ where: { id: row.id } });
    expect({ state: after.state, lastError: after.lastError }).toEqual({ state: "processed", lastError: null });
    expect(receiver.delivered.map((request) => JSON.parse(request.body).event.type)).toEqual(["CANCELLATION"]);
  });
});
