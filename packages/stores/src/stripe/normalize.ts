import type { z } from "zod";
import { firstIssue } from "@subgate/core";
import type { Normalized, StoredNotification } from "../adapter.ts";
import type { StripeConfig } from "./config.ts";
import type { StripeApiLookup } from "./lookup.ts";
import { eventContext, ignored, mapChargeRefunded, mapInvoiceEvent, mapSubscriptionEvent } from "./mapping.ts";
import { ChargeSchema, InvoiceSchema, StripeEventSchema, SubscriptionSchema, subscriptionKeyOf, type StripeEvent } from "./objects.ts";

const SUBSCRIPTION_EVENTS = new Set([
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "customer.subscription.paused",
  "customer.subscription.resumed",
]);
const INVOICE_EVENTS = new Set(["invoice.paid", "invoice.payment_failed", "invoice.payment_succeeded"]);

/**
 * Reads a stored event. It was verified at the ingress, so a failure here is a bug or a Stripe change, not
 * an attack: it is permanent (a plain Error), and retrying would not help.
 */
function parseStoredEvent(notification: StoredNotification): StripeEvent {
  let body: unknown;
  try {
    body = JSON.parse(notification.rawBody.toString("utf8"));
  } catch {
    throw new Error(`stored Stripe notification ${notification.id} is not JSON`);
  }
  const parsed = StripeEventSchema.safeParse(body);
  if (!parsed.success) {
    throw new Error(`stored Stripe notification ${notification.id} is not a Stripe event: ${firstIssue(parsed.error)}`);
  }
  return parsed.data;
}

function dataObject<Schema extends z.ZodType>(schema: Schema, event: StripeEvent): z.output<Schema> {
  const parsed = schema.safeParse(event.data.object);
  if (!parsed.success) {
    throw new Error(
      `${event.type} event ${event.id} carries an unreadable object: ${firstIssue(parsed.error, { prefix: ["data", "object"] })}`,
    );
  }
  return parsed.data;
}

/** Turns a stored Stripe event into subgate events and state (the table is in mapping.ts). */
export async function normalizeStripeNotification(
  notification: StoredNotification,
  config: StripeConfig,
  lookup: StripeApiLookup,
): Promise<Normalized> {
  const event = parseStoredEvent(notification);
  const context = eventContext(event);
  const previous = event.data.previous_attributes ?? null;

  if (SUBSCRIPTION_EVENTS.has(event.type)) {
    return mapSubscriptionEvent(context, dataObject(SubscriptionSchema, event), previous);
  }
  if (INVOICE_EVENTS.has(event.type)) {
    return mapInvoiceEvent(context, dataObject(InvoiceSchema, event));
  }
  if (event.type === "charge.refunded") {
    const charge = dataObject(ChargeSchema, event);
    const found = await lookup.findChargeSubscription(charge, config.apiKey);
    if (!found.found) {
      // A refund of a one-off payment concerns no subscription; one subgate could not look up waits.
      return found.cause === "no_subscription"
        ? ignored(context, found.reason, null)
        : { kind: "unresolved", reason: found.reason, environment: context.environment };
    }
    return mapChargeRefunded(context, charge, previous, found);
  }
  return ignored(context, `${event.type} is not an event subgate maps`, subscriptionKeyOf(event.data.object));
}
