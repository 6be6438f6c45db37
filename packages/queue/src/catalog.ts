import { UnrecoverableError } from "bullmq";
import { z } from "zod";
import { firstIssue } from "@subgate/core";

/**
 * Every job subgate queues: its queue, its payload schema (the worker checks payloads again),
 * and its retry policy. A job only names a row; PostgreSQL holds the facts, so a lost job is
 * re-created by the sweeper from the database and a duplicate job finds its row already done.
 */
export const JOB_CATALOG = {
  "notification.process": {
    queue: "notifications",
    schema: z.object({ notificationId: z.string().min(1) }),
    // A store API that is away is retried at the delay the worker wrote to the row (`retry-later`
    // backoff, from the database's attempt count); attempts is only an upper bound, after which the
    // sweeper queues the row again at its `next_attempt_at`.
    options: { attempts: 1_000, backoff: { type: "retry-later" } },
  },
  "delivery.send": {
    queue: "deliveries",
    schema: z.object({ deliveryId: z.string().min(1) }),
    // The schedule lives in the delivery worker (`retry-later` backoff, counted from the database's
    // attempt count so it survives Redis losing the job); attempts here is only an upper bound.
    options: { attempts: 1_000, backoff: { type: "retry-later" } },
  },
  "history.replay": {
    queue: "replays",
    schema: z.object({ replayId: z.string().min(1) }),
    // A replay works through its pages in one job; a store API that is away is retried at the delay
    // the worker wrote to the replay's row (`retry-later`), and the sweeper re-queues running replays.
    options: { attempts: 1_000, backoff: { type: "retry-later" } },
  },
} as const;

export type JobName = keyof typeof JOB_CATALOG;
export type JobPayload<N extends JobName> = z.infer<(typeof JOB_CATALOG)[N]["schema"]>;
export type QueueName = (typeof JOB_CATALOG)[JobName]["queue"];
export const QUEUE_NAMES = [...new Set(Object.values(JOB_CATALOG).map((job) => job.queue))] as QueueName[];

/**
 * Validates a payload read back from Redis against the catalog. A malformed job (left by another
 * version of subgate, say) can never succeed: UnrecoverableError fails it once instead of retrying
 * the same data up to the catalog's attempts. Its row, if any, is still in PostgreSQL for the sweeper.
 */
export function parseJobPayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  const parsed = JOB_CATALOG[name].schema.safeParse(data);
  if (parsed.success) return parsed.data as JobPayload<N>;
  throw new UnrecoverableError(`malformed ${name} job payload (${firstIssue(parsed.error, { root: "payload" })})`);
}
