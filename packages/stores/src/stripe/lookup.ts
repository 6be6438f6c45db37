import Stripe from "stripe";
import { RetryableNormalizationError } from "../adapter.ts";
import type { ChargeSubscription } from "./mapping.ts";
import { InvoiceSchema, invoiceProductId, invoiceSubscriptionId, type StripeCharge } from "./objects.ts";

/**
 * Not found, and why: `configuration` when another key (or any key) could find it, so the charge
 * waits as unresolved; `no_subscription` when Stripe shows it paid no subscription (a one-off
 * payment), which no configuration changes.
 */
export type ChargeLookupResult =
  | ({ found: true } & ChargeSubscription)
  | { found: false; cause: "configuration" | "no_subscription"; reason: string };

const needsConfiguration = (reason: string): ChargeLookupResult => ({ found: false, cause: "configuration", reason });
const noSubscription = (reason: string): ChargeLookupResult => ({ found: false, cause: "no_subscription", reason });

/**
 * API lookups for notifications that do not carry what subgate needs. Holds one SDK client per API key
 * (apps have their own keys; a client keeps its connection pool, so it is worth reusing).
 */
export class StripeApiLookup {
  private readonly clients = new Map<string, Stripe>();
  private readonly address: { host: string; port: string; protocol: "http" | "https" };

  constructor(apiBaseUrl: string) {
    const url = new URL(apiBaseUrl);
    const protocol = url.protocol === "http:" ? "http" : "https";
    this.address = { host: url.hostname, port: url.port || (protocol === "http" ? "80" : "443"), protocol };
  }

  private client(apiKey: string): Stripe {
    let client = this.clients.get(apiKey);
    if (client === undefined) {
      client = new Stripe(apiKey, {
        ...this.address,
        // The worker retries a RetryableNormalizationError with backoff; SDK retries on top would multiply.
        maxNetworkRetries: 0,
        timeout: 15_000,
        telemetry: false,
        appInfo: { name: "subgate" },
      });
      this.clients.set(apiKey, client);
    }
    return client;
  }

  /**
   * The subscription a refunded charge paid for. A charge does not name it; its invoice does:
   * - before API 2025-03-31 the charge names its invoice (`charge.invoice`);
   * - from 2025-03-31 it does not, and the invoice is found through the invoice payment of the charge's
   *   payment intent (`GET /v1/invoice_payments?payment[type]=payment_intent&payment[payment_intent]=pi_...`).
   * The invoice itself is retrieved to read its subscription (in either shape; the SDK's pinned API version
   * decides which one comes back).
   * Throws RetryableNormalizationError when Stripe cannot be reached or fails (5xx, 429).
   */
  async findChargeSubscription(charge: StripeCharge, apiKey: string | null): Promise<ChargeLookupResult> {
    if (apiKey === null || apiKey.trim() === "") {
      return needsConfiguration(`charge ${charge.id} does not name its subscription, and the app has no Stripe API key to look it up`);
    }
    const stripe = this.client(apiKey);
    try {
      const invoiceId = charge.invoice ?? (await this.invoiceOfPaymentIntent(stripe, charge));
      if (invoiceId === null) {
        return noSubscription(
          charge.payment_intent == null
            ? `charge ${charge.id} has neither an invoice nor a payment intent`
            : `no invoice is paid by payment intent ${charge.payment_intent} of charge ${charge.id}`,
        );
      }
      const invoice = InvoiceSchema.safeParse(await stripe.invoices.retrieve(invoiceId));
      if (!invoice.success) return needsConfiguration(`Stripe answered invoice ${invoiceId} with something unreadable`);
      const subscriptionId = invoiceSubscriptionId(invoice.data);
      if (subscriptionId === null) {
        return noSubscription(`invoice ${invoiceId} of charge ${charge.id} does not bill a subscription`);
      }
      return { found: true, subscriptionId, invoiceId, productId: invoiceProductId(invoice.data) };
    } catch (error) {
      return lookupFailure(error, charge.id);
    }
  }

  private async invoiceOfPaymentIntent(stripe: Stripe, charge: StripeCharge): Promise<string | null> {
    if (charge.payment_intent == null) return null;
    const payments = await stripe.invoicePayments.list({
      payment: { type: "payment_intent", payment_intent: charge.payment_intent },
    });
    // A payment intent may have had canceled attempts on an invoice; the paid one is the one refunded.
    const payment = payments.data.find((p) => p.status === "paid") ?? payments.data[0];
    if (payment === undefined) return null;
    return typeof payment.invoice === "string" ? payment.invoice : payment.invoice.id;
  }
}

/** Temporary failures are retried by the worker; a refused key or a missing object waits as unresolved. */
function lookupFailure(error: unknown, chargeId: string): ChargeLookupResult {
  const { errors } = Stripe;
  const temporary =
    error instanceof errors.StripeConnectionError ||
    error instanceof errors.StripeAPIError ||
    error instanceof errors.StripeRateLimitError ||
    (error instanceof errors.StripeError && (error.statusCode ?? 0) >= 500);
  if (temporary) {
    throw new RetryableNormalizationError(
      `Stripe API unavailable while looking up the subscription of charge ${chargeId}: ${error.message}`,
      { cause: error },
    );
  }
  if (error instanceof errors.StripeAuthenticationError || error instanceof errors.StripePermissionError) {
    // Stripe's message quotes part of the key: say what happened without it.
    return needsConfiguration(
      `Stripe refused the app's API key (HTTP ${error.statusCode ?? "?"}) while looking up charge ${chargeId}; ` +
        "a restricted key needs read access to invoices and invoice payments",
    );
  }
  if (error instanceof errors.StripeInvalidRequestError) {
    // A key of another Stripe account finds no such invoice: a configuration matter too.
    return needsConfiguration(`Stripe could not look up charge ${chargeId}'s invoice: ${error.message}`);
  }
  throw error;
}
