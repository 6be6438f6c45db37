import { createPrivateKey } from "node:crypto";
import { androidpublisher_v3, auth } from "@googleapis/androidpublisher";
import type { ServiceAccountKey } from "../config.ts";
import {
  errorOfNoAnswer,
  errorOfResponse,
  errorOfUnreadableAnswer,
  errorOfUnusableKey,
  type PlayApiError,
  type PlayCallContext,
} from "./errors.ts";

/** What purchases.subscriptionsv2.get answers, as Google types it; the caller validates what it reads. */
export type SubscriptionPurchaseV2 = androidpublisher_v3.Schema$SubscriptionPurchaseV2;
/** What purchases.products.get answers (a one-time product), as Google types it. */
export type ProductPurchase = androidpublisher_v3.Schema$ProductPurchase;

/** The one scope the purchase reads need; it is the JWT's `scope` claim (self-signed mode names no audience). */
export const ANDROID_PUBLISHER_SCOPE = "https://www.googleapis.com/auth/androidpublisher";

export interface PlayDeveloperApiOptions {
  /** Google's root, `https://androidpublisher.googleapis.com`, or a local stand-in; a path in it is not kept. */
  baseUrl: string;
  serviceAccountKey: ServiceAccountKey;
  /** Per call, for the answer and its body. Default 10 s. */
  timeoutMs?: number;
}

/**
 * subgate's client for the two purchase reads of the Android Publisher API, through Google's own
 * package. Each failure is a PlayApiError whose kind says what the caller does (retry, fix the
 * configuration, give up on the token); no call is retried here.
 *
 * Authentication is a self-signed JWT (the JWT client's `useJWTAccessWithScope`): every request carries
 * `Bearer <JWT signed with the service account's key>` and no token is fetched from Google's OAuth
 * endpoint, whose address the library fixes whatever the key says, so a local fake could never stand in
 * for it. It is the flow Google's own client libraries use for service accounts (AIP-4111), with the
 * `scope` claim instead of an audience; it also saves a round trip to Google.
 */
export class PlayDeveloperApi {
  private readonly api: androidpublisher_v3.Androidpublisher;
  private readonly context: PlayCallContext;
  /** Found once, at construction: a key that does not parse never will, and no request is made with it. */
  private readonly keyProblem: PlayApiError | null;

  constructor(options: PlayDeveloperApiOptions) {
    const key = options.serviceAccountKey;
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.context = { serviceAccountEmail: key.client_email, timeoutMs };
    this.keyProblem = problemOfKey(key);
    // One client for the instance: it caches its signed JWT and signs anew 5 minutes before the hour is up.
    const jwt = new auth.JWT({
      email: key.client_email,
      key: key.private_key,
      keyId: key.private_key_id,
      scopes: [ANDROID_PUBLISHER_SCOPE],
    });
    jwt.useJWTAccessWithScope = true;
    this.api = new androidpublisher_v3.Androidpublisher({
      auth: jwt,
      rootUrl: options.baseUrl,
      timeout: timeoutMs,
      // googleapis-common turns gaxios's retries on (3 tries on 5xx, 429, no answer); the worker's backoff
      // is the one policy, and retries hidden in here would multiply it and swallow Retry-After.
      retry: false,
    });
  }

  /** purchases.subscriptionsv2.get: the subscription a purchase token stands for, as it is now. */
  getSubscription(packageName: string, purchaseToken: string): Promise<SubscriptionPurchaseV2> {
    return this.call(() => this.api.purchases.subscriptionsv2.get({ packageName, token: purchaseToken }));
  }

  /** purchases.products.get: a one-time product purchase. */
  getProductPurchase(packageName: string, productId: string, purchaseToken: string): Promise<ProductPurchase> {
    return this.call(() => this.api.purchases.products.get({ packageName, productId, token: purchaseToken }));
  }

  private async call<T>(request: () => Promise<{ status: number; data: T }>): Promise<T> {
    if (this.keyProblem !== null) throw this.keyProblem;
    let response: { status: number; data: T };
    try {
      response = await request();
    } catch (error) {
      throw this.failure(error);
    }
    // Google answers JSON objects; anything else came from something in between.
    if (typeof response.data !== "object" || response.data === null || Array.isArray(response.data)) {
      throw errorOfUnreadableAnswer(response.status);
    }
    return response.data;
  }

  private failure(error: unknown): unknown {
    // Anything that is not a gaxios error is a bug, not Google's answer: it is not dressed up as one.
    if (!isGaxiosError(error)) return error;
    const { response } = error;
    if (response === undefined) return errorOfNoAnswer(noAnswerCode(error), this.context);
    return errorOfResponse(response.status, response.data, response.headers.get("retry-after"), this.context);
  }
}

/** Why a key cannot sign a request (RS256 needs an RSA private key), or null when it can. */
function problemOfKey(key: ServiceAccountKey): PlayApiError | null {
  if (typeof key.client_email !== "string" || key.client_email.trim() === "") return errorOfUnusableKey("it has no client_email");
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key.private_key);
  } catch {
    // Node's reason is left out: it may quote parts of the key.
    return errorOfUnusableKey("its private_key is not a PEM private key (-----BEGIN PRIVATE KEY-----)");
  }
  if (privateKey.asymmetricKeyType !== "rsa") {
    return errorOfUnusableKey(
      `its private_key is not an RSA key, as Google's are (it is ${privateKey.asymmetricKeyType ?? "of no known type"})`,
    );
  }
  return null;
}

/** The parts of a GaxiosError read here (gaxios is not a dependency of ours, only of Google's package). */
interface GaxiosFailure extends Error {
  code?: unknown;
  config: { signal?: AbortSignal };
  response?: { status: number; data: unknown; headers: Headers };
}

/** ECONNREFUSED and the like, or TimeoutError: gaxios aborts on `timeout` and its error says only "aborted". */
function noAnswerCode(error: GaxiosFailure): string | null {
  if (typeof error.code === "string") return error.code;
  const signal = error.config.signal;
  if (signal?.aborted && signal.reason instanceof Error && signal.reason.name === "TimeoutError") return "TimeoutError";
  return null;
}

function isGaxiosError(error: unknown): error is GaxiosFailure {
  return error instanceof Error && "config" in error && typeof error.config === "object" && error.config !== null;
}
