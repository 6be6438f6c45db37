import { z } from "zod";
import { EnvironmentSchema, EventDraftSchema, SubscriptionStatePatchSchema, type Environment, type Store } from "@subgate/schema";

/** One HTTP request to an ingress URL, as the store sent it. Header names are lower case. */
export interface IncomingRequest {
  rawBody: Buffer;
  headers: Readonly<Record<string, string | undefined>>;
  receivedAt: Date;
}

/**
 * What a store adapter establishes about a request it has verified, before anything is stored.
 * Fields the request does not carry (Google's environment, Apple's summary subscription key) are null;
 * normalization fills them in later.
 */
export interface VerifiedNotification {
  /** The store's own notification id, else a content hash: the inbox dedup key. */
  storeNotificationId: string;
  /** The store's name for the notification (`customer.subscription.updated`, `DID_RENEW`, ...). */
  notificationType: string | null;
  /** The store's refinement of the type, where it has one (Apple's `BILLING_RECOVERY`, `AUTO_RENEW_DISABLED`). */
  notificationSubtype: string | null;
  environment: Environment | null;
  subscriptionKey: string | null;
  /** When the store says the notification's event happened; orders notifications of one subscription. */
  storeEventAt: Date | null;
  /** When the store signed the body, where the proof of origin carries a time (Stripe's `t=`, Apple's `signedDate`). */
  signedAt: Date | null;
  /**
   * The bytes the inbox keeps, when they must differ from the bytes received: a body that carries a
   * secret (Apple V1's `password` is the app's shared secret) is stored without it. Absent: the body
   * is stored as received.
   */
  storedBody?: Buffer;
  /**
   * How the request was verified, for the record, and what normalization may rely on without
   * verifying again (the worker only sees rows the ingress verified). Never holds a secret.
   */
  verification: Record<string, unknown>;
}

/**
 * Why a request was refused. Each code maps to one ingress answer of docs/API.md:
 * malformed → 400, unauthenticated → 401, wrong_app → 403, unavailable → 503.
 */
export type VerificationFailure = "malformed" | "unauthenticated" | "wrong_app" | "unavailable";

export class VerificationError extends Error {
  override readonly name = "VerificationError";
  constructor(
    readonly failure: VerificationFailure,
    /** Safe to show the caller and to store in the app's status: says what is wrong, never a secret. */
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * A stored inbox row, handed back to the adapter for normalization in the worker. Every row was
 * verified at the ingress before it was stored: normalization decodes `rawBody` (the stored bytes,
 * see VerifiedNotification.storedBody) and may trust `verification` without checking signatures again.
 */
export interface StoredNotification {
  id: string;
  rawBody: Buffer;
  headers: Readonly<Record<string, string | undefined>>;
  storeNotificationId: string;
  notificationType: string | null;
  notificationSubtype: string | null;
  environment: Environment | null;
  subscriptionKey: string | null;
  storeEventAt: Date | null;
  receivedAt: Date;
  /** What verification established (VerifiedNotification.verification), as stored. */
  verification: Readonly<Record<string, unknown>>;
}

/** A time as an adapter gives it (a Date), or as it reads back from the stored JSON (an ISO string). */
const StoreTimeSchema = z.union([z.date(), z.iso.datetime({ offset: true })]).transform((value, ctx) => {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    ctx.addIssue({ code: "custom", message: "must be a valid time" });
    return z.NEVER;
  }
  return date;
});
const ReasonSchema = z.string().min(1).max(2000);
/** Ids that go into indexed columns: PostgreSQL's B-tree entries must stay far below 2704 bytes. */
export const SUBSCRIPTION_KEY_MAX_LENGTH = 512;
const SubscriptionKeySchema = z.string().min(1).max(SUBSCRIPTION_KEY_MAX_LENGTH);

/**
 * The result of normalizing one notification.
 * - `subscription`: concerns one subscription. `state` is what the store says the subscription's
 *   state is at `storeEventAt`, as a whole: every field the notification knows, or an empty patch
 *   when it carries no state (a Stripe refund or invoice). The ledger applies a state only when no
 *   newer one was applied, so a patch of a few fields must not be sent as if it were the whole.
 *   `stateAt` is when that state held, where it is not `storeEventAt`: Google's notification is only a
 *   signal, and its state is read from Google's API at the time of the call. The ledger orders states
 *   by it. `stateRank` orders notifications of one subscription that share a state time (Stripe's
 *   times are whole seconds): the higher is later in the subscription's life; 0 where the clock suffices.
 * - `test`: a store's TEST notification; concerns no subscription.
 * - `unresolved`: concerns a subscription subgate cannot identify without more configuration
 *   (a Stripe refund without the app's API key); stored and reported, never guessed.
 * - `ignored`: verified, but says nothing subgate tracks (an unknown or informational type). `warn`
 *   asks for an operator's eye (a type subgate does not know yet, a store's reported failure).
 *
 * Every adapter's result is checked against this schema (checks.ts) before anything is recorded:
 * a signed notification can still carry times and strings subgate cannot store.
 */
export const NormalizedSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("subscription"),
    subscriptionKey: SubscriptionKeySchema,
    environment: EnvironmentSchema,
    storeEventAt: StoreTimeSchema,
    state: SubscriptionStatePatchSchema,
    // Absent: the state held at storeEventAt.
    stateAt: StoreTimeSchema.optional(),
    // Absent in normalizations stored before ranks existed.
    stateRank: z.number().int().min(0).max(1000).default(0),
    events: z.array(EventDraftSchema).max(100),
    /**
     * The key this subscription replaces (Google's `linkedPurchaseToken`: an upgrade, a downgrade or
     * a re-signup makes a new purchase token). A subscription tracked under the older key follows
     * the new one: it keeps its id, and every older key still names it.
     */
    supersedesKey: SubscriptionKeySchema.nullable().optional(),
  }),
  z.object({ kind: z.literal("test"), environment: EnvironmentSchema, storeEventAt: StoreTimeSchema }),
  z.object({ kind: z.literal("unresolved"), reason: ReasonSchema, environment: EnvironmentSchema.nullable() }),
  z.object({
    kind: z.literal("ignored"),
    reason: ReasonSchema,
    warn: z.boolean().default(false),
    environment: EnvironmentSchema.nullable(),
    subscriptionKey: SubscriptionKeySchema.nullable(),
  }),
]);
/** What an adapter returns. */
export type Normalized = z.input<typeof NormalizedSchema>;
/** The same, checked: defaults filled in, times as Dates (see checks.ts). */
export type CheckedNormalized = z.output<typeof NormalizedSchema>;

/**
 * A normalization failure that may succeed later (the store's API was unreachable): the worker retries.
 * Any other error is permanent and marks the notification failed.
 */
export class RetryableNormalizationError extends Error {
  override readonly name = "RetryableNormalizationError";
  /** The store's own word on when to try again (a 429's Retry-After); the schedule's delay if longer. */
  readonly retryAfterMs: number | null;
  constructor(message: string, options: { cause?: unknown; retryAfterMs?: number | null } = {}) {
    super(message, { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

/** One per store. `Config` is the app's decrypted configuration for that store. */
export interface StoreAdapter<Config> {
  readonly store: Store;
  /** Verifies the request's proof of origin and that it is meant for this app. Throws VerificationError. */
  verify(request: IncomingRequest, config: Config): Promise<VerifiedNotification>;
  /** Turns a stored, verified notification into common events and a state patch. May call the store's API. */
  normalize(notification: StoredNotification, config: Config): Promise<Normalized>;
}
