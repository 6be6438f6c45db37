import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@subgate/core";
import { refundEvent } from "@subgate/testing/stripe-objects";
import { eventually, signStripePayload, subscriptionEvent, WebhookReceiver } from "@subgate/testing";
import { startGateway, type Gateway } from "../src/gateway.ts";
import { ADMIN_TOKEN, apiClient, createTestEnvironment, postToIngress, STRIPE_SECRET, type TestEnvironment } from "./harness.ts";

/*
 * What the gateway prints, at its most verbose level, while it handles every kind of secret it
 * holds: the admin token, app API keys (old and rotated), Stripe signing secrets and API key,
 * webhook endpoint secrets, ingress tokens and the encryption key. None may appear in any line.
 */

const ROTATED_STRIPE_SECRET = "whsec_rotated_secret_never_logged_0123";
const STRIPE_API_KEY = "rk_test_51QmZx4Hq2LkNeverLoggedRestrictedKey";

const lines: string[] = [];
const receiver = new WebhookReceiver();
let env: TestEnvironment;
let gateway: Gateway;

beforeAll(async () => {
  await receiver.start();
  // Nothing listens on port 9: the refund lookup fails and is retried, and that failure is logged.
  env = await createTestEnvironment({ stripeApiBaseUrl: "http://127.0.0.1:9", notificationRetryScheduleMs: [60_000] });
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  gateway = await startGateway(env.config, "all", createLogger({ level: "trace" }, capture));
});

afterAll(async () => {
  await gateway?.close();
  await env?.close();
  await receiver.close();
});

describe("the gateway's logs", () => {
  it("never contain a secret, through the whole life of an app", async () => {
    const admin = apiClient(gateway.url as string, ADMIN_TOKEN);
    const created = await admin.post("/v1/apps", {
      name: "Secrets",
      stripe: { webhook_secrets: [STRIPE_SECRET], api_key: STRIPE_API_KEY },
    });
    expect(created.status).toBe(201);
    const appId = created.body.id as string;
    const firstKey = created.body.api_key as string;
    const stripeUrl = created.body.ingress.stripe.url as string;
    const api = apiClient(gateway.url as string, firstKey);

    receiver.respondWith(500);
    const endpoint = await api.post(`/v1/apps/${appId}/webhooks`, { url: receiver.url });
    expect(endpoint.status).toBe(201);
    await api.post(`/v1/apps/${appId}/subscriptions`, { store: "stripe", store_subscription_id: "sub_secrets" });

    const send = (event: Record<string, unknown>, secret: string, headers: Record<string, string> = {}) => {
      const body = JSON.stringify(event);
      return postToIngress(gateway, stripeUrl, body, { "stripe-signature": signStripePayload(body, secret), ...headers });
    };
    const cancel = subscriptionEvent({
      subscriptionId: "sub_secrets",
      cancelAtPeriodEnd: true,
      previousAttributes: { cancel_at_period_end: false },
    });
    expect((await send(cancel, STRIPE_SECRET)).status).toBe(200);
    expect((await send(cancel, "whsec_some_attacker_guess", { authorization: `Bearer ${ADMIN_TOKEN}` })).status).toBe(401);
    // Express routes paths case-insensitively: this is the same ingress, and its token is masked too.
    const shouting = stripeUrl.replace("/ingress/", "/INGRESS/");
    expect((await postToIngress(gateway, shouting, "{}", { "stripe-signature": "t=1,v1=00" })).status).toBe(401);
    const refund = refundEvent("legacy");
    expect((await send(refund, STRIPE_SECRET)).status).toBe(200);

    // A failed then a successful webhook attempt, and a refund whose lookup could not reach Stripe.
    await receiver.waitFor((r) => r.delivered.length === 1);
    await eventually(
      async () => {
        const row = await gateway.db.notification.findFirst({ where: { appId, notificationType: "charge.refunded" } });
        return row?.lastError ? row : undefined;
      },
      15_000,
      "the refund lookup failed once",
    );

    const patched = await api.patch(`/v1/apps/${appId}`, { stripe: { webhook_secrets: [ROTATED_STRIPE_SECRET, STRIPE_SECRET] } });
    expect(patched.status).toBe(200);
    const rotated = await api.post(`/v1/apps/${appId}/api-keys/rotate`);
    expect(rotated.status).toBe(201);
    expect((await api.get(`/v1/apps/${appId}`)).status).toBe(401);
    expect((await apiClient(gateway.url as string, rotated.body.api_key).get(`/v1/apps/${appId}/webhooks`)).status).toBe(200);

    const secrets = {
      "admin token": ADMIN_TOKEN,
      "first app key": firstKey,
      "rotated app key": rotated.body.api_key as string,
      "stripe signing secret": STRIPE_SECRET,
      "rotated stripe signing secret": ROTATED_STRIPE_SECRET,
      "stripe api key": STRIPE_API_KEY,
      "webhook endpoint secret": endpoint.body.secret as string,
      "ingress token": new URL(stripeUrl).pathname.split("/").at(-1) as string,
      "encryption key": env.config.encryptionKey,
    };
    // The capture saw the work (so an empty log cannot pass): requests, refusals, deliveries.
    const text = lines.join("\n");
    for (const message of [
      "request",
      "ingress request refused",
      "notification stored",
      "webhook delivered",
      "normalization will be retried",
    ]) {
      expect(
        lines.some((line) => JSON.parse(line).msg === message),
        message,
      ).toBe(true);
    }
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length, name).toBeGreaterThan(8);
      expect(text.includes(secret), `${name} appears in the logs`).toBe(false);
    }
  });
});
