import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RetryableNormalizationError, type Normalized } from "../src/adapter.ts";
import { createStripeAdapter, type StripeConfig } from "../src/index.ts";
import { FEB_1, PRO_MONTHLY, SUBSCRIPTION_ID, chargeObject, invoiceObject, refundEvent } from "@subgate/testing/stripe-objects";
import { storedNotification } from "./fixtures/stripe-requests.ts";

/*
 * A local stand-in for the Stripe REST API: it records what the SDK asks and answers from `respond`.
 * Nothing leaves the machine.
 */
interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
}
type Responder = (request: RecordedRequest) => { status: number; body: unknown };

const API_KEY = "rk_test_51QmZx4Hq2Lk9TbVrestrictedKey";
const INVOICE_ID = "in_1QmZy82Hq2Lk9TbVrenew";
const CHARGE_ID = "ch_3QmZyC2Hq2Lk9TbV0renew";
const PAYMENT_INTENT_ID = "pi_3QmZyC2Hq2Lk9TbV0renew";

let server: Server;
let baseUrl: string;
let requests: RecordedRequest[] = [];
let respond: Responder = () => ({ status: 404, body: { error: { type: "invalid_request_error", message: "no route" } } });

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const recorded: RecordedRequest = {
      method: req.method ?? "",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
    };
    requests.push(recorded);
    const { status, body } = respond(recorded);
    res.writeHead(status, { "content-type": "application/json", "request-id": "req_local" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests = [];
});

const withKey: StripeConfig = { webhookSecrets: ["whsec_unused"], apiKey: API_KEY };

function normalize(event: Record<string, unknown>, config: StripeConfig = withKey): Promise<Normalized> {
  return createStripeAdapter({ apiBaseUrl: baseUrl }).normalize(storedNotification(event), config);
}

const invoiceList = (data: unknown[]) => ({ object: "list", data, has_more: false, url: "/v1/invoice_payments" });

function invoicePayment(invoice: string, status = "paid") {
  return {
    id: "inpay_1QmZyD2Hq2Lk9TbV",
    object: "invoice_payment",
    amount_paid: 999,
    amount_requested: 999,
    created: FEB_1 + 3_600,
    currency: "usd",
    invoice,
    is_default: true,
    livemode: false,
    payment: { payment_intent: PAYMENT_INTENT_ID, type: "payment_intent" },
    status,
    status_transitions: { canceled_at: null, paid_at: FEB_1 + 3_600 },
  };
}

const expectedRefund: Normalized = {
  kind: "subscription",
  subscriptionKey: SUBSCRIPTION_ID,
  environment: "sandbox",
  storeEventAt: new Date((FEB_1 + 86_400) * 1000),
  state: {},
  stateRank: 1,
  events: [
    {
      type: "CANCELLATION",
      event_timestamp_ms: (FEB_1 + 86_400) * 1000,
      cancel_reason: "CUSTOMER_SUPPORT",
      product_id: PRO_MONTHLY.productId,
      original_transaction_id: SUBSCRIPTION_ID,
      transaction_id: CHARGE_ID,
      price: -9.99,
      price_in_purchased_currency: -9.99,
      currency: "USD",
    },
  ],
};

describe("charge.refunded subscription lookup", () => {
  it.each(["legacy", "basil"] as const)(
    "older charge shape (charge.invoice) → GET /v1/invoices/{id}; the invoice comes back in the %s shape",
    async (invoiceShape) => {
      respond = (request) =>
        request.path === `/v1/invoices/${INVOICE_ID}`
          ? { status: 200, body: invoiceObject({ shape: invoiceShape, id: INVOICE_ID }) }
          : { status: 404, body: { error: { type: "invalid_request_error", message: "unexpected" } } };

      const result = await normalize(refundEvent("legacy"));

      expect(result).toEqual(expectedRefund);
      expect(requests).toEqual([{ method: "GET", path: `/v1/invoices/${INVOICE_ID}`, query: {}, authorization: `Bearer ${API_KEY}` }]);
    },
  );

  it("2025-03-31+ charge shape (no charge.invoice) → invoice payments of the payment intent, then the invoice", async () => {
    respond = (request) => {
      if (request.path === "/v1/invoice_payments") {
        return { status: 200, body: invoiceList([invoicePayment("in_1QmZxCanceledAttempt", "canceled"), invoicePayment(INVOICE_ID)]) };
      }
      if (request.path === `/v1/invoices/${INVOICE_ID}`) {
        return { status: 200, body: invoiceObject({ shape: "basil", id: INVOICE_ID }) };
      }
      return { status: 404, body: { error: { type: "invalid_request_error", message: "unexpected" } } };
    };

    const result = await normalize(refundEvent("basil"));

    expect(result).toEqual(expectedRefund);
    expect(requests.map(({ method, path, query }) => ({ method, path, query }))).toEqual([
      {
        method: "GET",
        path: "/v1/invoice_payments",
        query: { "payment[type]": "payment_intent", "payment[payment_intent]": PAYMENT_INTENT_ID },
      },
      { method: "GET", path: `/v1/invoices/${INVOICE_ID}`, query: {} },
    ]);
  });

  it("without an API key → unresolved, and nothing is asked of Stripe", async () => {
    const result = await normalize(refundEvent("basil"), { webhookSecrets: ["whsec_unused"], apiKey: null });
    expect(result).toEqual({
      kind: "unresolved",
      reason: expect.stringMatching(/no Stripe API key/),
      environment: "sandbox",
    });
    expect(requests).toEqual([]);
  });

  // A refund of a one-off payment: Stripe shows it paid no subscription, and no configuration changes
  // that, so it is ignored (not left unresolved, to be looked up again at every configuration change).
  it("a payment intent that paid no invoice (a one-off payment) → ignored, never guessed", async () => {
    respond = () => ({ status: 200, body: invoiceList([]) });
    const result = await normalize(refundEvent("basil"));
    expect(result).toMatchObject({ kind: "ignored", subscriptionKey: null, reason: expect.stringContaining(PAYMENT_INTENT_ID) });
  });

  it("an invoice that bills no subscription → ignored", async () => {
    respond = () => ({
      status: 200,
      body: invoiceObject({ shape: "basil", id: INVOICE_ID, billingReason: "manual", subscriptionId: null }),
    });
    const result = await normalize(refundEvent("legacy"));
    expect(result).toMatchObject({ kind: "ignored", reason: expect.stringMatching(/does not bill a subscription/) });
  });

  it("a charge with neither invoice nor payment intent → ignored without a request", async () => {
    const charge = chargeObject({ shape: "basil", paymentIntentId: null });
    const result = await normalize(refundEvent("basil", { charge }));
    expect(result).toMatchObject({ kind: "ignored", reason: expect.stringMatching(/neither an invoice nor a payment intent/) });
    expect(requests).toEqual([]);
  });

  it("an invoice Stripe does not know (a key of another account) → unresolved: another key may find it", async () => {
    respond = () => ({ status: 404, body: { error: { type: "invalid_request_error", message: `No such invoice: '${INVOICE_ID}'` } } });
    const result = await normalize(refundEvent("legacy"));
    expect(result).toMatchObject({ kind: "unresolved", reason: expect.stringMatching(/could not look up/) });
  });

  it("a key Stripe refuses → unresolved, with a reason that does not quote the key", async () => {
    respond = () => ({
      status: 401,
      body: { error: { type: "invalid_request_error", message: `Invalid API Key provided: ${API_KEY}` } },
    });
    const result = await normalize(refundEvent("legacy"));
    expect(result).toMatchObject({ kind: "unresolved", reason: expect.stringMatching(/refused the app's API key/) });
    expect(JSON.stringify(result)).not.toContain(API_KEY);
  });

  it("Stripe answering 500 → RetryableNormalizationError", async () => {
    respond = () => ({ status: 500, body: { error: { type: "api_error", message: "An unknown error occurred" } } });
    await expect(normalize(refundEvent("legacy"))).rejects.toBeInstanceOf(RetryableNormalizationError);
    expect(requests).toHaveLength(1);
  });

  it("a gateway error page instead of JSON (502) → RetryableNormalizationError", async () => {
    respond = () => ({ status: 502, body: "<html><body>502 Bad Gateway</body></html>" });
    await expect(normalize(refundEvent("legacy"))).rejects.toBeInstanceOf(RetryableNormalizationError);
  });

  it("Stripe answering 429 → RetryableNormalizationError", async () => {
    respond = () => ({ status: 429, body: { error: { type: "invalid_request_error", code: "rate_limit", message: "Too many requests" } } });
    await expect(normalize(refundEvent("basil"))).rejects.toBeInstanceOf(RetryableNormalizationError);
  });

  it("Stripe unreachable → RetryableNormalizationError", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const adapter = createStripeAdapter({ apiBaseUrl: `http://127.0.0.1:${port}` });
    await expect(adapter.normalize(storedNotification(refundEvent("legacy")), withKey)).rejects.toBeInstanceOf(RetryableNormalizationError);
  });
});
