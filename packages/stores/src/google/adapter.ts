import { ClientCache } from "../client-cache.ts";
import { type StoreAdapter, type StoredNotification, type Normalized, RetryableNormalizationError } from "../adapter.ts";
import { GOOGLE_DEFAULTS, type GoogleAdapterOptions, type GoogleConfig, type ServiceAccountKey } from "./config.ts";
import { mapOneTimeProductNotification, mapSubscriptionNotification, mapTestNotification, mapVoidedPurchase } from "./mapping.ts";
import { GoogleJwks } from "./oidc/jwks.ts";
import { PlayApiError, PlayDeveloperApi } from "./play-api/index.ts";
import { parseGooglePush } from "./push.ts";
import { verifyGooglePush } from "./verify.ts";

/**
 * The Google Play adapter. A push is verified (OIDC token, body, package name) at the ingress; the
 * notification is only a signal, so normalization reads the purchase from the Android Publisher API
 * and maps Google's answer. Calls to Google happen here, in the worker, outside any transaction.
 */
export function createGoogleAdapter(options: GoogleAdapterOptions = {}): StoreAdapter<GoogleConfig> {
  const jwks = new GoogleJwks({ url: options.oidcCertsUrl ?? GOOGLE_DEFAULTS.oidcCertsUrl });
  const baseUrl = options.playApiBaseUrl ?? GOOGLE_DEFAULTS.playApiBaseUrl;
  const clients = new ClientCache<PlayDeveloperApi>();
  const clientFor = (key: ServiceAccountKey): PlayDeveloperApi =>
    clients.get([key.client_email, key.private_key], () => new PlayDeveloperApi({ baseUrl, serviceAccountKey: key }));

  return {
    store: "play_store",
    verify: (request, config) => verifyGooglePush(request, config, jwks),
    async normalize(notification, config) {
      const { notification: developer } = parseStoredPush(notification);
      const eventTimeMillis = developer.eventTimeMillis;
      if (developer.testNotification) return mapTestNotification({ environment: config.testEnvironment, eventTimeMillis });
      const token = notification.subscriptionKey;
      if (!token) {
        return unknownKind(null);
      }
      const key = config.serviceAccountKey;
      if (!key) {
        return {
          kind: "unresolved",
          reason: "google.service_account_key is not set: subgate reads the purchase from the Android Publisher API with it",
          environment: null,
        };
      }
      const api = clientFor(key);
      const { packageName } = config;
      return readFromGoogle(async () => {
        const sub = developer.subscriptionNotification;
        if (sub) {
          const calledAt = new Date();
          const purchase = await api.getSubscription(packageName, sub.purchaseToken);
          return mapSubscriptionNotification({
            notificationType: sub.notificationType,
            purchaseToken: sub.purchaseToken,
            eventTimeMillis,
            purchase,
            calledAt,
          });
        }
        const oneTime = developer.oneTimeProductNotification;
        if (oneTime) {
          const calledAt = new Date();
          const purchase = await api.getProductPurchase(packageName, oneTime.sku, oneTime.purchaseToken);
          return mapOneTimeProductNotification({ ...oneTime, eventTimeMillis, purchase, calledAt });
        }
        const voided = developer.voidedPurchaseNotification;
        if (voided) {
          const answer = await voidedAnswer(api, packageName, voided);
          return mapVoidedPurchase({ ...voided, eventTimeMillis, answer, authenticated: notification.verification.authenticated === true });
        }
        return unknownKind(token);
      });
    },
  };
}

/** A notification kind Google added after this build: kept and acknowledged, with a warning. */
function unknownKind(subscriptionKey: string | null): Normalized {
  return {
    kind: "ignored",
    reason: "a Google notification of a kind subgate does not know",
    warn: true,
    environment: null,
    subscriptionKey,
  };
}

/**
 * Google's answer for a voided purchase's token, if it still gives one: a refund of a subscription
 * that expired long ago may no longer be readable (404/410), and the refund is still news.
 */
async function voidedAnswer(
  api: PlayDeveloperApi,
  packageName: string,
  voided: { purchaseToken: string; productType: number },
): Promise<{ purchase: unknown; calledAt: Date } | null> {
  if (voided.productType !== 1) return null;
  const calledAt = new Date();
  try {
    return { purchase: await api.getSubscription(packageName, voided.purchaseToken), calledAt };
  } catch (error) {
    if (error instanceof PlayApiError && error.kind === "not_found") return null;
    throw error;
  }
}

/**
 * What a failed call to Google means for the notification, which is already safe in the inbox:
 * Google away or rate limiting → tried again with backoff (Retry-After honoured); the key refused
 * or lacking a permission → `unresolved`, processed again when the app's google block changes; an
 * unknown token or a refused request → failed, with Google's reason.
 */
async function readFromGoogle(read: () => Promise<Normalized>): Promise<Normalized> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof PlayApiError)) throw error;
    switch (error.kind) {
      case "unavailable":
        throw new RetryableNormalizationError(error.message, { cause: error, retryAfterMs: error.retryAfterMs });
      case "unauthorized":
        return { kind: "unresolved", reason: error.message, environment: null };
      case "not_found":
      case "rejected":
        throw new Error(error.message);
    }
  }
}

/** The stored push was verified at the ingress; one that no longer parses is a bug, not an attack. */
function parseStoredPush(notification: StoredNotification) {
  try {
    return parseGooglePush(notification.rawBody);
  } catch (error) {
    throw new Error(`stored Google notification ${notification.id} does not parse: ${(error as Error).message}`);
  }
}
