import { Router } from "express";
import { z } from "zod";
import { AppError, newId } from "@subgate/core";
import type { HistoryReplay } from "@subgate/db";
import { EnvironmentSchema } from "@subgate/schema";
import { APPLE_HISTORY_RETENTION_DAYS } from "@subgate/stores";
import { callApple } from "./apple-errors.ts";
import { requireAppAccess } from "./auth.ts";
import type { ApiOptions } from "./context.ts";
import { iso } from "./serialize.ts";
import { parseInput } from "./validate.ts";

const DAY_MS = 86_400_000;
/** An end a little ahead of this server's clock is the caller's "now" on a clock that runs fast. */
const FUTURE_SLACK_MS = 5 * 60_000;

const isoTime = z.iso
  .datetime({ offset: true, error: "expected an ISO 8601 time such as 2026-01-01T00:00:00Z" })
  .transform((value) => new Date(value));

const replayInput = z.strictObject({ environment: EnvironmentSchema, start: isoTime, end: isoTime }).superRefine((input, ctx) => {
  // zod runs this even when a field failed already; those are reported as they are.
  if (!(input.start instanceof Date) || !(input.end instanceof Date)) return;
  const now = Date.now();
  if (input.end.getTime() <= input.start.getTime()) ctx.addIssue({ code: "custom", path: ["end"], message: "must be after start" });
  if (input.end.getTime() > now + FUTURE_SLACK_MS) ctx.addIssue({ code: "custom", path: ["end"], message: "must not be in the future" });
  // Apple refuses an older start (InvalidStartDateError); said here, before a replay is created to fail.
  const days = APPLE_HISTORY_RETENTION_DAYS[input.environment];
  if (input.start.getTime() < now - days * DAY_MS) {
    ctx.addIssue({
      code: "custom",
      path: ["start"],
      message: `Apple keeps ${input.environment} notification history for ${days} days: start must be within them`,
    });
  }
});

const replayIdSchema = z.string().regex(/^rpl_[0-9a-z]+$/, "is not a history replay id");

/** A replay as docs/API.md shows it. */
export function historyReplayView(replay: HistoryReplay) {
  return {
    id: replay.id,
    status: replay.status,
    environment: replay.environment,
    start: iso(replay.startAt),
    end: iso(replay.endAt),
    pages: replay.pages,
    fetched: replay.fetched,
    stored: replay.stored,
    duplicates: replay.duplicates,
    rejected: replay.rejected,
    reached_at: iso(replay.reachedAt),
    error: replay.error,
    next_attempt_at: iso(replay.nextAttemptAt),
    created_at: iso(replay.createdAt),
    finished_at: iso(replay.finishedAt),
  };
}

/**
 * `POST /v1/apps/{id}/apple/history-replays`: Apple's notification history over a range, every page,
 * through the normal pipeline. The worker does the fetching (history-replay.ts in @subgate/worker);
 * the row is the replay's durable state, so it survives restarts and is what GET shows.
 */
export function appleHistoryReplaysRouter(options: ApiOptions): Router {
  const { db, secretBox, appStoreApis, producer, logger } = options;
  const router = Router();

  router.post("/v1/apps/:appId/apple/history-replays", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const input = parseInput(replayInput, req.body ?? {});
    // Refused now if the app has no key, instead of a replay that can only fail.
    await callApple(() => appStoreApis.forApp(db, secretBox, appId, input.environment));
    const replay = await db.historyReplay.create({
      data: { id: newId("replay"), appId, store: "app_store", environment: input.environment, startAt: input.start, endAt: input.end },
    });
    await producer.enqueue("history.replay", { replayId: replay.id }, { jobId: replay.id }).catch((error: unknown) => {
      // The row is the replay: the sweeper queues running replays whose job never made it.
      logger.warn({ err: (error as Error).message, replay_id: replay.id }, "enqueue failed; the sweeper will pick the replay up");
    });
    logger.info({ app_id: appId, replay_id: replay.id, environment: input.environment }, "Apple history replay started");
    res.status(202).json(historyReplayView(replay));
  });

  router.get("/v1/apps/:appId/apple/history-replays/:replayId", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const id = parseInput(replayIdSchema, req.params.replayId);
    const replay = await db.historyReplay.findFirst({ where: { id, appId } });
    if (!replay) throw new AppError("not_found", "history replay not found");
    res.json(historyReplayView(replay));
  });

  return router;
}
