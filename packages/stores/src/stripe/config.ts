/** An app's decrypted Stripe configuration. */
export interface StripeConfig {
  /**
   * Signing secrets (`whsec_...`) of the app's Stripe webhook endpoint. Several are accepted so a secret
   * can be rotated: Stripe signs with the old and the new one for a while, and the app lists both.
   */
  webhookSecrets: string[];
  /**
   * A (restricted) API key. Optional: without it, notifications that do not name their subscription
   * (`charge.refunded`) stay unresolved instead of being looked up.
   */
  apiKey: string | null;
}

export interface StripeAdapterOptions {
  /**
   * Where the Stripe API lives. Only scheme, host and port are used (the SDK adds `/v1/...`);
   * tests point it at a local server.
   */
  apiBaseUrl?: string;
  /** How old a signature's timestamp may be, in seconds (replay protection). */
  toleranceSeconds?: number;
}

export const DEFAULT_STRIPE_API_BASE_URL = "https://api.stripe.com";
/** Stripe's own default (`stripe.webhooks.DEFAULT_TOLERANCE`). */
export const DEFAULT_STRIPE_TOLERANCE_SECONDS = 300;
