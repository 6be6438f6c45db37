import type { StoreAdapter } from "../adapter.ts";
import { DEFAULT_STRIPE_API_BASE_URL, DEFAULT_STRIPE_TOLERANCE_SECONDS, type StripeAdapterOptions, type StripeConfig } from "./config.ts";
import { StripeApiLookup } from "./lookup.ts";
import { normalizeStripeNotification } from "./normalize.ts";
import { verifyStripeRequest } from "./verify.ts";

export type { StripeAdapterOptions, StripeConfig } from "./config.ts";
export { DEFAULT_STRIPE_API_BASE_URL, DEFAULT_STRIPE_TOLERANCE_SECONDS } from "./config.ts";

/** The Stripe store adapter: webhook signature verification and event mapping (see mapping.ts). */
export function createStripeAdapter(options: StripeAdapterOptions = {}): StoreAdapter<StripeConfig> {
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_STRIPE_TOLERANCE_SECONDS;
  const lookup = new StripeApiLookup(options.apiBaseUrl ?? DEFAULT_STRIPE_API_BASE_URL);
  return {
    store: "stripe",
    verify: async (request, config) => verifyStripeRequest(request, config, toleranceSeconds),
    normalize: (notification, config) => normalizeStripeNotification(notification, config, lookup),
  };
}
