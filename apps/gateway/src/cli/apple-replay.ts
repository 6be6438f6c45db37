import { z } from "zod";
import { appPath, type Command, CONNECTION_HELP, environmentOption, EXIT_HELP, requireOption } from "./command.ts";
import { UsageError } from "./errors.ts";
import { parseTimeArgument } from "./times.ts";
import { watchReplay } from "./replay-watch.ts";

const Started = z.object({ id: z.string().min(1), status: z.string() });

const WATCH_HELP = `While it runs, a bar on stderr shows how far it has come (on a terminal; elsewhere a line per
change). It ends with a summary line, exit 0, when the replay is done, or with the replay's error,
exit 1, when it failed. Ctrl-C stops watching, not the replay: it goes on on the gateway, and
\`subgate apple replay-status\` watches it again.`;

export const appleReplayCommand: Command = {
  name: "apple replay",
  summary: "replay Apple's notification history for a time range through subgate",
  options: ["app", "since", "until", "environment"],
  usage: `Usage: subgate apple replay --app <app_id> --since <time> [--until <time>] [--environment production|sandbox]

Asks the gateway to fetch Apple's notification history for the range (App Store Server API, "Get
Notification History", every page) and to put each notification through the normal pipeline.
Notifications subgate already has count as duplicates and change nothing; replayed notifications
never move last_received_at. Needs the app's apple block with issuer_id, key_id and private_key.

${WATCH_HELP}

Options:
  --app <app_id>           the app (app_...)
  --since <time>           the start of the range (required)
  --until <time>           the end of the range; default now
  --environment <env>      production (default) or sandbox
  --json                   print the replay as the gateway answers it at the end; a failed
                           replay prints {"error": {"code": "replay_failed", "message", "replay"}}

A <time> is an ISO 8601 time with Z or an offset (2026-01-01T00:00:00Z, 2026-01-01T10:00+02:00),
a date (2026-01-01, midnight UTC), "now", or a time ago: a number and a unit (s, m, h, d, w),
such as 30m, 24h, 7d or 1d12h, meaning that long before now.

${CONNECTION_HELP}

${EXIT_HELP}

Examples:
  subgate apple replay --app app_123 --since 7d
  subgate apple replay --app app_123 --since 2026-01-01 --until 2026-01-08 --environment sandbox
  subgate apple replay --app app_123 --since 24h --json | jq '{fetched, stored, duplicates}'`,

  async run(context) {
    const appId = requireOption(this, context.values, "app", "app_id");
    const now = context.now();
    const start = timeOption(this, "since", requireOption(this, context.values, "since", "time"), now);
    const end = timeOption(this, "until", context.values.until ?? "now", now);
    if (start.getTime() >= end.getTime()) {
      throw new UsageError(`--since (${start.toISOString()}) must be before --until (${end.toISOString()})`, this.name);
    }
    const environment = environmentOption(this, context.values, "production");
    const client = context.client();
    const body = { environment, start: start.toISOString(), end: end.toISOString() };
    const started = await client.post(`${appPath(appId)}/apple/history-replays`, body, Started);
    const id = started.value.id;
    context.io.stderr.write(`replay ${id} started (${environment}); Ctrl-C stops watching, the replay goes on on the gateway\n`);
    return watchReplay(context, client, { appId, id, range: { start, end } });
  },
};

export const appleReplayStatusCommand: Command = {
  name: "apple replay-status",
  summary: "watch a replay started earlier, until it is done or failed",
  options: ["app", "id"],
  usage: `Usage: subgate apple replay-status --app <app_id> --id <replay_id>

Watches a replay that \`subgate apple replay\` started (its id is in that command's output), for
instance after Ctrl-C stopped watching it. A replay that has already ended is reported at once.

${WATCH_HELP}

Options:
  --app <app_id>           the app (app_...)
  --id <replay_id>         the replay
  --json                   print the replay as the gateway answers it at the end

${CONNECTION_HELP}

${EXIT_HELP}

Examples:
  subgate apple replay-status --app app_123 --id hr_123
  subgate apple replay-status --app app_123 --id hr_123 --json | jq .status`,

  async run(context) {
    const appId = requireOption(this, context.values, "app", "app_id");
    const id = requireOption(this, context.values, "id", "replay_id");
    return watchReplay(context, context.client(), { appId, id });
  },
};

function timeOption(command: Command, name: "since" | "until", text: string, now: Date): Date {
  const parsed = parseTimeArgument(text, now);
  if (!parsed.ok) throw new UsageError(`--${name}: ${parsed.problem}`, command.name);
  return parsed.value;
}
