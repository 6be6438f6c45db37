import { z } from "zod";
import { appPath, type Command, CONNECTION_HELP, type Environment, environmentOption, EXIT_HELP, requireOption } from "./command.ts";
import { CliError, EXIT, InterruptedError, UsageError } from "./errors.ts";
import { type Io, printable, writeJson } from "./output.ts";
import { poll } from "./poll.ts";
import { Spinner } from "./spinner.ts";
import { formatApiTime, parseDuration } from "./times.ts";

const POLL_MS = 1_000;
const DEFAULT_TIMEOUT_MS = 60_000;

// docs/API.md "Apple: test notifications and history replays".
const Requested = z.object({ test_notification_token: z.string().min(1) });
const Delivery = z.object({
  send_attempts: z.array(z.object({ attempted_at: z.string().nullish(), result: z.string() })),
  received_at: z.string().nullish(),
});
type Delivery = z.infer<typeof Delivery>;

/** Apple's sendAttemptResult for a delivery it saw answered with a 2xx. */
const SUCCESS = "SUCCESS";

export const appleTestNotificationCommand: Command = {
  name: "apple test-notification",
  summary: "ask Apple to send a TEST notification and wait until subgate has it",
  options: ["app", "environment", "timeout"],
  usage: `Usage: subgate apple test-notification --app <app_id> [--environment sandbox|production] [--timeout 60s]

Asks Apple (App Store Server API, "Request a Test Notification") to send a TEST notification to the
URL entered in App Store Connect, then asks every second until subgate's ingress has stored it and
Apple has recorded its send attempt. Prints Apple's attempts and when subgate received it. Needs the
app's apple block with issuer_id, key_id and private_key.

Succeeds (exit 0) only when the TEST arrived and Apple's last attempt is SUCCESS. Otherwise it exits
1 and says what to check: the Server URL in App Store Connect for that environment, TLS,
APPLE_INGRESS_ALLOWED_IPS, and \`subgate status\` for a refusal the ingress recorded.

Options:
  --app <app_id>           the app (app_...)
  --environment <env>      sandbox (default) or production
  --timeout <duration>     how long to wait: 90 (seconds), 90s, 2m; default 60s
  --json                   print {test_notification_token, send_attempts, received_at} at the end;
                           a failure prints {"error": {...}} with those fields in it

${CONNECTION_HELP}

${EXIT_HELP}

Examples:
  subgate apple test-notification --app app_123
  subgate apple test-notification --app app_123 --environment production --timeout 2m`,

  async run(context) {
    const appId = requireOption(this, context.values, "app", "app_id");
    const environment = environmentOption(this, context.values, "sandbox");
    const timeoutMs = timeoutOption(this, context.values.timeout);
    const client = context.client();

    const requested = await client.post(`${appPath(appId)}/apple/test-notifications`, { environment }, Requested);
    const token = requested.value.test_notification_token;
    const statusPath = `${appPath(appId)}/apple/test-notifications/${encodeURIComponent(token)}?environment=${environment}`;

    const spinner = new Spinner(context.io.stderr);
    const started = Date.now();
    const polled = await poll({
      look: async (signal) => (await client.get(statusPath, Delivery, signal)).value,
      done: settled,
      seen: (delivery) => {
        const waited = Math.round((Date.now() - started) / 1000);
        spinner.update(
          `waiting for Apple's TEST notification (${environment}): ${waited} s of ${timeoutMs / 1000} s; ${progress(delivery)}`,
        );
      },
      intervalMs: POLL_MS,
      deadline: started + timeoutMs,
    }).finally(() => spinner.stop());
    if (polled.outcome === "interrupted") throw stoppedWaiting(appId, token, environment, context.connectionHint);
    const delivery = polled.value;

    const result = { test_notification_token: token, send_attempts: delivery.send_attempts, received_at: delivery.received_at ?? null };
    const failure = judge(delivery, { appId, environment, timeoutMs, connectionHint: context.connectionHint });
    if (context.json) {
      if (failure) throw new CliError(failure.message, failure.code, EXIT.failed, result, failure.hints);
      writeJson(context.io, result);
      return EXIT.ok;
    }
    report(context.io, result, environment, context.now());
    if (failure) throw failure;
    return EXIT.ok;
  },
};

function timeoutOption(command: Command, value: string | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  const parsed = parseDuration(value);
  if (!parsed.ok) throw new UsageError(`--timeout: ${parsed.problem}`, command.name);
  if (parsed.value < POLL_MS) throw new UsageError("--timeout must be at least 1s", command.name);
  return parsed.value;
}

/**
 * Done waiting: subgate has it and Apple has listed an attempt, or Apple's last attempt failed and
 * nothing arrived (Apple retries a failed TEST much later than anyone waits at a terminal).
 */
function settled(delivery: Delivery): boolean {
  const last = delivery.send_attempts.at(-1);
  if (delivery.received_at) return last !== undefined;
  return last !== undefined && last.result !== SUCCESS;
}

function progress(delivery: Delivery): string {
  const attempts = delivery.send_attempts.length;
  const apple = attempts === 0 ? "no attempt by Apple yet" : `Apple's last attempt: ${delivery.send_attempts.at(-1)?.result}`;
  return `${apple}, ${delivery.received_at ? "received by subgate" : "not received by subgate yet"}`;
}

interface JudgeContext {
  appId: string;
  environment: Environment;
  timeoutMs: number;
  connectionHint: string;
}

/** null when the TEST arrived and Apple's last attempt is SUCCESS; otherwise what went wrong, and what to check. */
function judge(delivery: Delivery, { appId, environment, timeoutMs, connectionHint }: JudgeContext): CliError | null {
  const last = delivery.send_attempts.at(-1);
  const received = Boolean(delivery.received_at);
  if (received && last?.result === SUCCESS) return null;
  const seconds = `${timeoutMs / 1000} s`;
  const checks = [
    `check that the ${environment === "sandbox" ? "Sandbox" : "Production"} Server URL in App Store Connect (App Information, App Store Server Notifications) is this app's Apple ingress URL (ingress.apple.url of the app)`,
    "check that the URL answers over HTTPS with a certificate Apple trusts (a public CA, TLS 1.2 or later, the whole chain served)",
    "check that APPLE_INGRESS_ALLOWED_IPS, if set, lets Apple's addresses (17.0.0.0/8) in, as the gateway sees them behind any proxy (TRUST_PROXY)",
    `check \`subgate status --app ${appId}${connectionHint}\` for a refusal the ingress recorded (a bad signature, a wrong bundle id, an address not allowed)`,
  ];
  if (received) {
    const message = last
      ? `subgate received the TEST notification, but Apple's last attempt reports ${last.result}: Apple did not see subgate's 200 in time`
      : `subgate received the TEST notification, but Apple listed no send attempt within ${seconds}`;
    return new CliError(message, "apple_send_failed", EXIT.failed, {}, last ? checks.slice(1) : []);
  }
  if (!last) {
    return new CliError(
      `Apple made no attempt to send the TEST notification (${environment}) within ${seconds}`,
      "timeout",
      EXIT.failed,
      {},
      checks,
    );
  }
  if (last.result === SUCCESS) {
    return new CliError(
      `Apple reports ${SUCCESS}, but subgate did not receive the TEST notification within ${seconds}: Apple sent it to another server`,
      "timeout",
      EXIT.failed,
      {},
      checks.slice(0, 1),
    );
  }
  return new CliError(
    `Apple could not deliver the TEST notification (${environment}): ${last.result}`,
    "apple_send_failed",
    EXIT.failed,
    {},
    checks,
  );
}

function report(io: Io, result: { test_notification_token: string } & Delivery, environment: Environment, now: Date): void {
  const lines = [`Apple TEST notification (${environment}), token ${printable(result.test_notification_token)}`];
  if (result.send_attempts.length === 0) lines.push("  Apple's send attempts: none yet");
  else {
    lines.push("  Apple's send attempts:");
    for (const attempt of result.send_attempts)
      lines.push(`    ${formatApiTime(attempt.attempted_at, now, "(no time)")}  ${printable(attempt.result)}`);
  }
  lines.push(`  received by subgate: ${formatApiTime(result.received_at, now, "not yet")}`);
  io.stdout.write(`${lines.join("\n")}\n`);
}

function stoppedWaiting(appId: string, token: string, environment: Environment, connectionHint: string): InterruptedError {
  return new InterruptedError(
    "stopped waiting; Apple may still send the TEST notification",
    { test_notification_token: token, environment },
    [`subgate status --app ${appId}${connectionHint} shows when a TEST notification last arrived (LAST TEST)`],
  );
}
