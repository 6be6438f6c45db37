import { SingleBar } from "cli-progress";
import { z } from "zod";
import { appPath, type Context } from "./command.ts";
import { CliError, EXIT, InterruptedError } from "./errors.ts";
import type { GatewayClient } from "./http.ts";
import { type Io, printable, writeJson } from "./output.ts";
import { poll } from "./poll.ts";
import { formatAbsolute } from "./times.ts";

const POLL_MS = 1_000;
/** The bar's resolution: how far reached_at has come between start and end, in thousandths. */
const BAR_TOTAL = 1_000;

// docs/API.md "Replay the notification history". Only id and status are sure to be there (the first
// form of the contract had only the counts besides); the rest is read when present.
const count = z.number().nullish();
const time = z.string().nullish();
export const Replay = z.object({
  id: z.string(),
  status: z.string(),
  environment: z.string().nullish(),
  start: time,
  end: time,
  fetched: count,
  stored: count,
  duplicates: count,
  rejected: count,
  error: z.string().nullish(),
  reached_at: time,
  next_attempt_at: time,
  created_at: time,
  finished_at: time,
});
export type Replay = z.infer<typeof Replay>;

export interface ReplayTarget {
  appId: string;
  id: string;
  /** The range asked for, when this command started the replay (an older gateway does not echo it). */
  range?: { start: Date; end: Date };
}

/**
 * Watches a replay until it is done (exit 0) or failed (exit 1). Ctrl-C stops the watching only: the
 * replay runs on the gateway, so the message says how to watch it again.
 */
export async function watchReplay(context: Context, client: GatewayClient, target: ReplayTarget): Promise<number> {
  const path = `${appPath(target.appId)}/apple/history-replays/${encodeURIComponent(target.id)}`;
  const progress = new ReplayProgress(context.io, target.range);
  let raw: unknown = null;
  const polled = await poll({
    look: async (signal) => {
      const answer = await client.get(path, Replay, signal);
      raw = answer.raw;
      return answer.value;
    },
    done: (replay) => replay.status !== "running",
    seen: (replay) => progress.update(replay),
    intervalMs: POLL_MS,
  }).finally(() => progress.stop());

  if (polled.outcome === "interrupted") {
    const watch = `subgate apple replay-status --app ${target.appId} --id ${target.id}${context.connectionHint}`;
    throw new InterruptedError(`stopped watching; replay ${target.id} goes on on the gateway`, { replay: raw }, [
      `watch it again: ${watch}`,
    ]);
  }
  const replay = polled.value;
  if (replay.status === "done") {
    if (context.json) writeJson(context.io, raw);
    else context.io.stdout.write(`${printable(summary(replay, target.range))}\n`);
    return EXIT.ok;
  }
  const why = replay.status === "failed" ? (replay.error ?? "no reason given") : `status "${replay.status}", which this CLI does not know`;
  throw new CliError(`replay ${replay.id} failed: ${why} (${counts(replay)})`, "replay_failed", EXIT.failed, { replay: raw });
}

/** "replay hr_1 done: fetched 12, stored 10, duplicates 2 (production, 2026-11-25 10:00:00Z to 2026-12-02 10:00:00Z)" */
function summary(replay: Replay, range: ReplayTarget["range"]): string {
  const start = replay.start ?? range?.start.toISOString();
  const end = replay.end ?? range?.end.toISOString();
  const what = [replay.environment, start && end ? `${showTime(start)} to ${showTime(end)}` : null].filter(Boolean).join(", ");
  return `replay ${replay.id} done: ${counts(replay)}${what ? ` (${what})` : ""}`;
}

function counts(replay: Replay): string {
  const parts = [`fetched ${replay.fetched ?? 0}`, `stored ${replay.stored ?? 0}`, `duplicates ${replay.duplicates ?? 0}`];
  if (replay.rejected !== undefined && replay.rejected !== null) parts.push(`rejected ${replay.rejected}`);
  return parts.join(", ");
}

/** A running replay that waits for Apple (away, or rate-limiting) says so, and when it tries again. */
function waiting(replay: Replay): string {
  if (replay.status !== "running" || !replay.error) return "";
  return ` | waiting: ${replay.error}${replay.next_attempt_at ? `; next try ${showTime(replay.next_attempt_at)}` : ""}`;
}

function showTime(iso: string): string {
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : formatAbsolute(time);
}

/**
 * How far the replay has come, on stderr: a bar on a terminal; elsewhere (a pipe, a CI log) a line
 * each time something changed, which reads well after the fact.
 */
class ReplayProgress {
  private bar: SingleBar | null = null;
  private lastLine = "";

  constructor(
    private readonly io: Io,
    private readonly range: ReplayTarget["range"],
  ) {}

  update(replay: Replay): void {
    const fraction = this.fraction(replay);
    const reached = replay.reached_at ? showTime(replay.reached_at) : "not yet";
    const payload = { counts: `${counts(replay)}${waiting(replay)}`, reached };
    if (!this.io.stderr.isTTY) {
      const percent = fraction === null ? "" : ` ${Math.floor(fraction * 100)}%,`;
      const line = `replay ${replay.id} ${replay.status}:${percent} reached ${reached}, ${payload.counts}`;
      if (line !== this.lastLine) this.io.stderr.write(`${printable(line)}\n`);
      this.lastLine = line;
      return;
    }
    const value = Math.round((fraction ?? 0) * BAR_TOTAL);
    if (!this.bar) {
      // Without a range (an older gateway, watched by id) there is nothing to draw a bar of.
      const format =
        fraction === null
          ? `replay ${replay.id} | reached {reached} | {counts}`
          : `replay ${replay.id} [{bar}] {percentage}% | reached {reached} | {counts}`;
      this.bar = new SingleBar({ stream: this.io.stderr, format, hideCursor: true, barsize: 30 });
      this.bar.start(BAR_TOTAL, value, payload);
    } else this.bar.update(value, payload);
  }

  stop(): void {
    this.bar?.stop();
  }

  /** Between 0 and 1, or null when the range is not known. A finished replay has come all the way. */
  private fraction(replay: Replay): number | null {
    const start = Date.parse(replay.start ?? "") || this.range?.start.getTime();
    const end = Date.parse(replay.end ?? "") || this.range?.end.getTime();
    if (!start || !end || end <= start) return null;
    if (replay.status === "done") return 1;
    const reached = Date.parse(replay.reached_at ?? "");
    if (Number.isNaN(reached)) return 0;
    return Math.min(1, Math.max(0, (reached - start) / (end - start)));
  }
}
