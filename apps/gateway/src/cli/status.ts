import { z } from "zod";
import { appPath, type Command, CONNECTION_HELP, EXIT_HELP, requireOption } from "./command.ts";
import { EXIT } from "./errors.ts";
import { writeJson } from "./output.ts";
import { renderTable } from "./table.ts";
import { formatApiTime } from "./times.ts";

// docs/API.md "Notification status". More fields may be added; times may be missing in an older gateway.
const time = z.string().nullish();
const StatusAnswer = z.object({
  stores: z.array(
    z.object({
      store: z.string(),
      environment: z.string(),
      last_received_at: time,
      last_test_received_at: time,
      last_rejected_at: time,
      last_rejection_reason: z.string().nullish(),
      rejection_count: z.number().optional(),
    }),
  ),
});

export const statusCommand: Command = {
  name: "status",
  summary: "whether an app's stores are delivering: last received, last TEST, last refusal",
  options: ["app"],
  usage: `Usage: subgate status --app <app_id> [--json]

Prints one line per store and environment the app has configured or seen: when subgate last
received a notification for a tracked subscription, when the last TEST notification arrived, and
the last request its ingress refused, with the reason (a bad signature, a wrong bundle id, ...).
Times are relative, with the UTC time beside them. Refusals belong to the store, so both of its
environments show the same one.

Options:
  --app <app_id>       the app (app_...)
  --json               print the gateway's answer as it is

${CONNECTION_HELP}

${EXIT_HELP}

Examples:
  SUBGATE_URL=https://subgate.example.com SUBGATE_API_KEY=sk_... subgate status --app app_123
  subgate status --app app_123 --json | jq '.stores[] | select(.last_rejected_at != null)'`,

  async run(context) {
    const appId = requireOption(this, context.values, "app", "app_id");
    const answer = await context.client().get(`${appPath(appId)}/notification-status`, StatusAnswer);
    if (context.json) {
      writeJson(context.io, answer.raw);
      return EXIT.ok;
    }
    const { stores } = answer.value;
    if (stores.length === 0) {
      context.io.stdout.write(`app ${appId} has no store configured and none seen yet.\n`);
      return EXIT.ok;
    }
    const now = context.now();
    const rows = stores.map((entry) => [
      entry.store,
      entry.environment,
      formatApiTime(entry.last_received_at, now),
      formatApiTime(entry.last_test_received_at, now),
      formatApiTime(entry.last_rejected_at, now),
      rejection(entry.last_rejection_reason, entry.rejection_count),
    ]);
    context.io.stdout.write(renderTable(["STORE", "ENVIRONMENT", "LAST RECEIVED", "LAST TEST", "LAST REJECTED", "REASON"], rows));
    return EXIT.ok;
  },
};

function rejection(reason: string | null | undefined, count: number | undefined): string {
  if (!reason) return "";
  return count && count > 1 ? `${reason} (${count} refused in all)` : reason;
}
