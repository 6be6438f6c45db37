import { randomUUID } from "node:crypto";
import { describeError, isUnavailableError, newId, type Logger, type SecretBox } from "@subgate/core";
import type { Db, HistoryReplay, Prisma } from "@subgate/db";
import type { JobProducer } from "@subgate/queue";
import {
  AppStoreApiError,
  AppStoreApiNotConfiguredError,
  firstSendAttemptAt,
  historyItemRequest,
  loadStoreConfig,
  notificationRow,
  problemWithVerified,
  VerificationError,
  type AppStoreApis,
  type BoundStoreAdapter,
  type StoreRegistry,
} from "@subgate/stores";
import { notificationRetryDelayMs, RetryLaterError } from "./retry-later.ts";

/** A replay whose store stays away (or that keeps failing) this many tries in a row is failed. */
export const REPLAY_ATTEMPT_LIMIT = 8;
/**
 * How long a claim on a replay lasts unless renewed. The worker renews it every third of that while
 * it works (one page can take longer: Apple's retries and Retry-After waits), so a worker that dies
 * holds its replay this long at most.
 */
export const REPLAY_LEASE_MS = 15_000;

export interface HistoryReplayDeps {
  db: Db;
  secretBox: SecretBox;
  stores: StoreRegistry;
  appStoreApis: AppStoreApis;
  producer: JobProducer;
  logger: Logger;
  /** Delays before trying again while the store's API is away (the notifications' schedule). */
  notificationRetryScheduleMs: readonly number[];
  /** Aborted when the worker stops: the replay lets go between pages and resumes on the next start. */
  signal?: AbortSignal;
  leaseMs?: number;
}

/** Another worker holds the replay now (this one's lease ran out): it stops without writing. */
class LeaseLostError extends Error {}

/** The store refused the replay for good (credentials, range): retrying cannot help. */
function isPermanent(error: unknown): boolean {
  if (error instanceof AppStoreApiNotConfiguredError) return true;
  return error instanceof AppStoreApiError && (error.kind === "unauthorized" || error.kind === "rejected" || error.kind === "not_found");
}

/**
 * Works through one history replay, a page at a time. Each page's notifications are verified like
 * delivered ones, then stored together with the replay's next pagination token and its counts in
 * one transaction: a replay stopped at any point resumes from the page it had reached, stores
 * nothing twice and counts nothing twice. Calls to Apple happen outside any transaction.
 */
export async function runHistoryReplay(deps: HistoryReplayDeps, replayId: string): Promise<void> {
  const { db, logger } = deps;
  const leaseMs = deps.leaseMs ?? REPLAY_LEASE_MS;
  const claimed = await claim(db, replayId, leaseMs);
  if (!claimed) return;
  let replay = claimed;
  const log = logger.child({ replay_id: replay.id, app_id: replay.appId, environment: replay.environment });
  const heartbeat = setInterval(() => {
    renew(db, claimed, leaseMs).catch((error: unknown) => log.warn({ err: describeError(error) }, "could not renew the replay's lease"));
  }, leaseMs / 3);

  try {
    const client = await deps.appStoreApis.forApp(db, deps.secretBox, replay.appId, replay.environment);
    const adapter = (await loadStoreConfig(db, deps.secretBox, deps.stores, replay.appId, "app_store"))?.adapter;
    if (!adapter) throw new AppStoreApiNotConfiguredError("this app's apple block is gone");
    const request = { startDate: replay.startAt.getTime(), endDate: replay.endAt.getTime() };
    for (;;) {
      if (deps.signal?.aborted) {
        await release(db, replay, {});
        log.info({ pages: replay.pages }, "history replay paused: the worker is stopping; it resumes on the next start");
        return;
      }
      const page = await client.getNotificationHistory(request, replay.paginationToken ?? undefined).catch(async (error: unknown) => {
        if (!(replay.paginationToken && isExpiredPaginationToken(error))) throw error;
        // Apple no longer takes the token this replay stopped at: start the range again. What was
        // stored already comes back as duplicates, so nothing is stored twice.
        log.warn({ pages: replay.pages }, "Apple refused the stored pagination token; the replay starts its range again");
        replay = await restartRange(db, replay);
        return client.getNotificationHistory(request);
      });
      const result = await storePage(replay, adapter, page.items, log);
      // The client refuses a page that says hasMore without a token, so null here means the last page.
      replay = await commitPage(db, replay, result, page.nextPaginationToken, leaseMs);
      await deps.producer.enqueueNotifications(result.storedIds);
      if (replay.status === "done") {
        log.info(
          { fetched: replay.fetched, stored: replay.stored, duplicates: replay.duplicates, rejected: replay.rejected, pages: replay.pages },
          "history replay done",
        );
        return;
      }
    }
  } catch (error) {
    if (error instanceof LeaseLostError) {
      log.warn("history replay taken over by another worker (this one's lease ran out)");
      return;
    }
    await handleFailure(deps, replay, error, log);
  } finally {
    clearInterval(heartbeat);
  }
}

interface PageResult {
  rows: Prisma.NotificationCreateManyInput[];
  rejected: number;
  fetched: number;
  reachedAt: Date | null;
  storedIds: string[];
}

/** Verifies a page's records as the ingress would; refused ones are counted, never stored. */
async function storePage(
  replay: HistoryReplay,
  adapter: BoundStoreAdapter,
  items: readonly { signedPayload: string; sendAttempts: { attemptDate: number }[] }[],
  log: Logger,
): Promise<PageResult> {
  const receivedAt = new Date();
  const result: PageResult = { rows: [], rejected: 0, fetched: items.length, reachedAt: replay.reachedAt, storedIds: [] };
  for (const item of items) {
    const sentAt = firstSendAttemptAt(item.sendAttempts);
    if (sentAt && (!result.reachedAt || sentAt > result.reachedAt)) result.reachedAt = sentAt;
    const request = historyItemRequest(item.signedPayload, receivedAt);
    let problem: string | null;
    try {
      const verified = await adapter.verify(request);
      problem = problemWithVerified(verified, receivedAt);
      if (!problem) {
        const row = notificationRow({
          id: newId("notification"),
          appId: replay.appId,
          store: replay.store,
          verified,
          rawBody: request.rawBody,
          headers: {},
          receivedAt,
          replayId: replay.id,
        });
        result.rows.push(row);
      }
    } catch (error) {
      // A check that needs the network (OCSP) could not run: the page is fetched again later.
      if (!(error instanceof VerificationError) || error.failure === "unavailable") throw error;
      problem = error.reason;
    }
    if (problem) {
      result.rejected += 1;
      log.warn({ reason: problem }, "history replay: a notification from Apple's history was refused by verification");
    }
  }
  return result;
}

/** Stores a page and moves the replay past it, in one transaction; fenced by the lease this worker holds. */
async function commitPage(db: Db, replay: HistoryReplay, page: PageResult, next: string | null, leaseMs: number): Promise<HistoryReplay> {
  const done = next === null;
  const now = new Date();
  return db.$transaction(async (tx) => {
    const stored = page.rows.length
      ? await tx.notification.createManyAndReturn({ data: page.rows, skipDuplicates: true, select: { id: true } })
      : [];
    page.storedIds = stored.map((row) => row.id);
    const moved = await tx.historyReplay.updateMany({
      where: { id: replay.id, status: "running", leasedBy: replay.leasedBy },
      data: {
        paginationToken: next,
        pages: { increment: 1 },
        fetched: { increment: page.fetched },
        stored: { increment: stored.length },
        duplicates: { increment: page.rows.length - stored.length },
        rejected: { increment: page.rejected },
        reachedAt: done ? replay.endAt : page.reachedAt,
        attempts: 0,
        nextAttemptAt: null,
        error: null,
        status: done ? "done" : "running",
        finishedAt: done ? now : null,
        ...(done ? { leasedBy: null, leaseUntil: null } : { leaseUntil: new Date(now.getTime() + leaseMs) }),
      },
    });
    if (moved.count === 0) throw new LeaseLostError();
    return tx.historyReplay.findUniqueOrThrow({ where: { id: replay.id } });
  });
}

async function handleFailure(deps: HistoryReplayDeps, replay: HistoryReplay, error: unknown, log: Logger): Promise<void> {
  const reason = error instanceof AppStoreApiError || error instanceof AppStoreApiNotConfiguredError ? error.message : describeError(error);
  const attempts = replay.attempts + 1;
  if (isPermanent(error) || attempts >= REPLAY_ATTEMPT_LIMIT) {
    const why = isPermanent(error) ? reason : `gave up after ${attempts} tries in a row: ${reason}`;
    await release(deps.db, replay, { status: "failed", error: why, finishedAt: new Date(), attempts });
    log.warn({ reason: why, fetched: replay.fetched, stored: replay.stored }, "history replay failed");
    return;
  }
  // Apple's Retry-After when it gave one, else the schedule; the row says when, for the sweeper.
  const scheduled = notificationRetryDelayMs(attempts, deps.notificationRetryScheduleMs);
  const delayMs = error instanceof AppStoreApiError && error.retryAfterMs !== null ? Math.max(error.retryAfterMs, 1_000) : scheduled;
  const transient = error instanceof AppStoreApiError || isUnavailableError(error) || error instanceof VerificationError;
  await release(deps.db, replay, { error: reason, attempts, nextAttemptAt: new Date(Date.now() + delayMs) }).catch(
    (releaseError: unknown) => {
      // PostgreSQL away as well: the lease runs out and the sweeper picks the replay up again.
      log.warn({ err: describeError(releaseError) }, "could not record the replay's failed try");
    },
  );
  const level = transient ? "warn" : "error";
  log[level]({ reason, attempts, retry_in_ms: delayMs }, "history replay will try again");
  throw new RetryLaterError(`history replay ${replay.id}: ${reason}`, delayMs);
}

/** Apple's InvalidPaginationTokenError: a token it issued that it no longer accepts (after a long pause). */
function isExpiredPaginationToken(error: unknown): boolean {
  return error instanceof AppStoreApiError && error.kind === "rejected" && error.errorCode === 4000006;
}

async function restartRange(db: Db, replay: HistoryReplay): Promise<HistoryReplay> {
  const { count } = await db.historyReplay.updateMany({
    where: { id: replay.id, status: "running", leasedBy: replay.leasedBy },
    data: { paginationToken: null },
  });
  if (count === 0) throw new LeaseLostError();
  return { ...replay, paginationToken: null };
}

/** Lets the replay go (and records what the caller says), if this worker still holds it. */
async function release(db: Db, replay: HistoryReplay, data: Prisma.HistoryReplayUpdateManyMutationInput): Promise<void> {
  await db.historyReplay.updateMany({
    where: { id: replay.id, status: "running", leasedBy: replay.leasedBy },
    data: { ...data, leasedBy: null, leaseUntil: null },
  });
}

/** Extends this worker's claim while it is still its own. */
async function renew(db: Db, replay: HistoryReplay, leaseMs: number): Promise<void> {
  await db.historyReplay.updateMany({
    where: { id: replay.id, status: "running", leasedBy: replay.leasedBy },
    data: { leaseUntil: new Date(Date.now() + leaseMs) },
  });
}

/**
 * Takes the replay for this worker if it is running, due and held by nobody. Null otherwise: a
 * duplicate job, a replay another worker is fetching, or one that is waiting for its next try.
 */
async function claim(db: Db, replayId: string, leaseMs: number): Promise<HistoryReplay | null> {
  const now = new Date();
  const leaseUntil = new Date(now.getTime() + leaseMs);
  const { count } = await db.historyReplay.updateMany({
    where: {
      id: replayId,
      status: "running",
      OR: [{ leaseUntil: null }, { leaseUntil: { lt: now } }],
      AND: [{ OR: [{ nextAttemptAt: null }, { nextAttemptAt: { lte: now } }] }],
    },
    data: { leasedBy: randomUUID(), leaseUntil },
  });
  if (count === 0) return null;
  return db.historyReplay.findUnique({ where: { id: replayId } });
}
