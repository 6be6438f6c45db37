import { createHmac } from "node:crypto";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { rejected } from "./fixtures/thrown.ts";
import { VerificationError } from "../src/adapter.ts";
import { createStripeAdapter, type StripeConfig } from "../src/index.ts";
import {
  API_VERSIONS,
  JAN_1,
  SHAPES,
  SUBSCRIPTION_ID,
  chargeObject,
  invoiceObject,
  stripeEvent,
  subscriptionObject,
} from "@subgate/testing/stripe-objects";
import { ROTATED_SECRET, WEBHOOK_SECRET, signedRequest } from "./fixtures/stripe-requests.ts";

const adapter = createStripeAdapter({ apiBaseUrl: "http://127.0.0.1:9" });
const config: StripeConfig = { webhookSecrets: [WEBHOOK_SECRET], apiKey: null };

const subscriptionEventBody = JSON.stringify(
  stripeEvent({
    shape: "basil",
    type: "customer.subscription.updated",
    object: subscriptionObject({ shape: "basil" }),
    previous: { cancel_at_period_end: false },
    id: "evt_1QmZzK2Hq2Lk9TbVverify1",
    created: JAN_1 + 60,
  }),
);

/** Runs verify and returns the VerificationError it must throw. */
const refusal = (promise: Promise<unknown>): Promise<VerificationError> => rejected(VerificationError, promise);

describe("Stripe verify", () => {
  it("accepts a request signed with the configured secret and describes the event", async () => {
    const verified = await adapter.verify(signedRequest(subscriptionEventBody, WEBHOOK_SECRET), config);
    expect(verified).toEqual({
      storeNotificationId: "evt_1QmZzK2Hq2Lk9TbVverify1",
      notificationType: "customer.subscription.updated",
      notificationSubtype: null,
      environment: "sandbox",
      subscriptionKey: SUBSCRIPTION_ID,
      storeEventAt: new Date((JAN_1 + 60) * 1000),
      signedAt: expect.any(Date),
      verification: { scheme: "stripe-signature", secret_index: 0, api_version: API_VERSIONS.basil },
    });
  });

  it("accepts the second of two secrets (rotation) and records which one verified", async () => {
    const rotating: StripeConfig = { webhookSecrets: [WEBHOOK_SECRET, ROTATED_SECRET], apiKey: null };
    const verified = await adapter.verify(signedRequest(subscriptionEventBody, ROTATED_SECRET), rotating);
    expect(verified.verification).toEqual({ scheme: "stripe-signature", secret_index: 1, api_version: API_VERSIONS.basil });
  });

  it("reports livemode events as production", async () => {
    const body = JSON.stringify(
      stripeEvent({
        shape: "legacy",
        type: "customer.subscription.created",
        object: subscriptionObject({ shape: "legacy", livemode: true }),
        livemode: true,
      }),
    );
    const verified = await adapter.verify(signedRequest(body, WEBHOOK_SECRET), config);
    expect(verified.environment).toBe("production");
  });

  it.each(SHAPES)("reads an invoice's subscription in the %s shape", async (shape) => {
    const body = JSON.stringify(stripeEvent({ shape, type: "invoice.paid", object: invoiceObject({ shape }) }));
    const verified = await adapter.verify(signedRequest(body, WEBHOOK_SECRET), config);
    expect(verified.subscriptionKey).toBe(SUBSCRIPTION_ID);
  });

  it("reads an expanded invoice subscription object", async () => {
    const invoice = invoiceObject({ shape: "basil" });
    invoice.parent = {
      type: "subscription_details",
      subscription_details: { metadata: {}, subscription: subscriptionObject({ shape: "basil" }) },
    };
    const body = JSON.stringify(stripeEvent({ shape: "basil", type: "invoice.paid", object: invoice }));
    const verified = await adapter.verify(signedRequest(body, WEBHOOK_SECRET), config);
    expect(verified.subscriptionKey).toBe(SUBSCRIPTION_ID);
  });

  it("leaves the subscription key of a charge unknown (it takes an API lookup)", async () => {
    const body = JSON.stringify(stripeEvent({ shape: "legacy", type: "charge.refunded", object: chargeObject({ shape: "legacy" }) }));
    const verified = await adapter.verify(signedRequest(body, WEBHOOK_SECRET), config);
    expect(verified.subscriptionKey).toBeNull();
    expect(verified.notificationType).toBe("charge.refunded");
  });

  it("refuses a wrong secret as unauthenticated, without naming any secret", async () => {
    const error = await refusal(adapter.verify(signedRequest(subscriptionEventBody, "whsec_someone_elses_secret"), config));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/does not match any of the 1 configured/);
    expect(error.reason).not.toContain(WEBHOOK_SECRET);
    expect(error.reason).not.toContain("whsec_");
  });

  it("refuses a tampered body", async () => {
    const request = signedRequest(subscriptionEventBody, WEBHOOK_SECRET);
    const tampered = { ...request, rawBody: Buffer.from(subscriptionEventBody.replace('"livemode":false', '"livemode":true')) };
    expect(tampered.rawBody.equals(request.rawBody)).toBe(false);
    const error = await refusal(adapter.verify(tampered, config));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/does not match/);
  });

  it("refuses a signature older than the 300 s tolerance, saying so", async () => {
    const receivedAt = new Date();
    const request = signedRequest(subscriptionEventBody, WEBHOOK_SECRET, {
      signedAt: new Date(receivedAt.getTime() - 301_000),
      receivedAt,
    });
    const error = await refusal(adapter.verify(request, config));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/outside the 300 s tolerance/);
  });

  it("accepts a signature 299 s old, and counts the age to when subgate received the request", async () => {
    const receivedAt = new Date(Date.now() - 3_600_000);
    const request = signedRequest(subscriptionEventBody, WEBHOOK_SECRET, {
      signedAt: new Date(receivedAt.getTime() - 299_000),
      receivedAt,
    });
    await expect(adapter.verify(request, config)).resolves.toMatchObject({ storeNotificationId: "evt_1QmZzK2Hq2Lk9TbVverify1" });
  });

  it("honours a configured tolerance", async () => {
    const strict = createStripeAdapter({ toleranceSeconds: 10 });
    const receivedAt = new Date();
    const request = signedRequest(subscriptionEventBody, WEBHOOK_SECRET, { signedAt: new Date(receivedAt.getTime() - 11_000), receivedAt });
    const error = await refusal(strict.verify(request, config));
    expect(error.reason).toMatch(/outside the 10 s tolerance/);
  });

  it("refuses a request without Stripe-Signature header", async () => {
    const request = signedRequest(subscriptionEventBody, WEBHOOK_SECRET);
    const error = await refusal(adapter.verify({ ...request, headers: { "content-type": "application/json" } }, config));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/missing Stripe-Signature header/);
  });

  it("refuses a header that is not t=...,v1=...", async () => {
    const request = signedRequest(subscriptionEventBody, WEBHOOK_SECRET);
    const error = await refusal(adapter.verify({ ...request, headers: { "stripe-signature": "sha256=abcdef" } }, config));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/not of the form/);
  });

  it("refuses a signature dated more than the tolerance ahead, and accepts one within it (clock skew)", async () => {
    const receivedAt = new Date();
    const ahead = (seconds: number) =>
      signedRequest(subscriptionEventBody, WEBHOOK_SECRET, { signedAt: new Date(receivedAt.getTime() + seconds * 1000), receivedAt });
    const error = await refusal(adapter.verify(ahead(301), config));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/more than 300 s ahead/);
    await expect(adapter.verify(ahead(299), config)).resolves.toMatchObject({ storeNotificationId: "evt_1QmZzK2Hq2Lk9TbVverify1" });
    // Dated ahead is refused whatever the body: a bad body does not turn it into a 400.
    const notJson = await refusal(
      adapter.verify(signedRequest("not json", WEBHOOK_SECRET, { signedAt: new Date(receivedAt.getTime() + 301_000), receivedAt }), config),
    );
    expect(notJson.failure).toBe("unauthenticated");
  });

  // Each was accepted: subgate's own check read the first strict `t=`, the SDK the last one, loosely.
  it.each([
    ["two timestamps, the later one signed", (now: number, future: number) => [`t=${now},t=${future}`, String(future)]],
    ["a timestamp with a trailing letter", (_now: number, future: number) => [`t=${future}x`, `${future}x`]],
    ["a timestamp after a space", (_now: number, future: number) => [`t= ${future}`, ` ${future}`]],
  ] as const)("refuses a future-dated signature whose header has %s", async (_form, build) => {
    const receivedAt = new Date();
    const now = Math.floor(receivedAt.getTime() / 1000);
    const [timestampPart, signedTimestamp] = build(now, now + 3600);
    // Signed with the real secret over what the SDK reads as the timestamp: only the header's form is off.
    const signature = createHmac("sha256", WEBHOOK_SECRET).update(`${signedTimestamp}.${subscriptionEventBody}`).digest("hex");
    const request = signedRequest(subscriptionEventBody, WEBHOOK_SECRET, { receivedAt });
    const error = await refusal(
      adapter.verify({ ...request, headers: { "stripe-signature": `${timestampPart},v1=${signature}` } }, config),
    );
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/not of the form t=<timestamp>,v1=<signature>/);
  });

  it("records when Stripe signed the body, the time the SDK checked", async () => {
    const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 42_000);
    const verified = await adapter.verify(
      signedRequest(subscriptionEventBody, WEBHOOK_SECRET, { signedAt, receivedAt: new Date() }),
      config,
    );
    expect(verified.signedAt).toEqual(signedAt);
  });

  it.each(["t=0,v1=", "t=1,v1", "v1=,t=5", "t=,v1=,v1="])("refuses the header %s as unauthenticated, not as a bad body", async (header) => {
    const request = signedRequest(subscriptionEventBody, WEBHOOK_SECRET);
    const error = await refusal(adapter.verify({ ...request, headers: { "stripe-signature": header } }, config));
    expect(error.failure).toBe("unauthenticated");
  });

  it("refuses everything when the app has no secret configured", async () => {
    const error = await refusal(adapter.verify(signedRequest(subscriptionEventBody, WEBHOOK_SECRET), { webhookSecrets: [], apiKey: null }));
    expect(error.failure).toBe("unauthenticated");
    expect(error.reason).toMatch(/no Stripe webhook signing secret is configured/);
  });

  it("answers malformed for a correctly signed body that is not JSON", async () => {
    const error = await refusal(adapter.verify(signedRequest("event=customer.subscription.updated", WEBHOOK_SECRET), config));
    expect(error.failure).toBe("malformed");
    expect(error.reason).toMatch(/not JSON/);
  });

  it("answers malformed for correctly signed JSON that is not a Stripe event", async () => {
    const error = await refusal(adapter.verify(signedRequest(JSON.stringify({ hello: "world" }), WEBHOOK_SECRET), config));
    expect(error.failure).toBe("malformed");
    expect(error.reason).toMatch(/not a Stripe event/);
  });

  it("answers malformed for a thin (v2) event notification", async () => {
    const thin = JSON.stringify({
      id: "evt_test_65R9Ijk8XrFg4mQ2",
      object: "v2.core.event",
      type: "v1.billing.meter.error_report_triggered",
      created: "2026-01-01T00:01:00.000Z",
      livemode: false,
      related_object: { id: "mtr_test_61R9", type: "billing.meter", url: "/v1/billing/meters/mtr_test_61R9" },
    });
    const error = await refusal(adapter.verify(signedRequest(thin, WEBHOOK_SECRET), config));
    expect(error.failure).toBe("malformed");
    expect(error.reason).toMatch(/thin \(v2\) event/);
  });

  it("answers malformed for an empty body", async () => {
    const error = await refusal(adapter.verify(signedRequest("", WEBHOOK_SECRET), config));
    expect(error.failure).toBe("malformed");
  });

  it("uses the SDK's own header format (sanity check of the fixture)", () => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload: "{}", secret: WEBHOOK_SECRET, timestamp: 1_700_000_000 });
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
  });
});
