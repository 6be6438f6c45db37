import { CONNECTION_HELP, EXIT_HELP } from "./command.ts";

export const TOP_USAGE = `subgate: talk to a running subgate gateway over its HTTP API.

Usage: subgate <command> [options]

Commands:
  status                      whether an app's stores are delivering: last received, last TEST, last refusal
  apple test-notification     ask Apple to send a TEST notification and wait until subgate has it
  apple replay                replay Apple's notification history for a time range through subgate
  apple replay-status         watch a replay started earlier

Options go before or after the command's words. \`subgate <command> --help\` prints a command's
options and examples; \`subgate help <command>\` does the same.

${CONNECTION_HELP}

${EXIT_HELP}

Examples:
  export SUBGATE_URL=https://subgate.example.com SUBGATE_API_KEY=sk_...
  subgate status --app app_123
  subgate apple test-notification --app app_123 --environment sandbox
  subgate apple replay --app app_123 --since 7d`;

export const APPLE_USAGE = `Usage: subgate apple <command> [options]

The App Store's own tools, through the gateway (they need the app's apple block with issuer_id,
key_id and private_key):

  test-notification     ask Apple to send a TEST notification and wait until subgate has it
  replay                replay Apple's notification history for a time range through subgate
  replay-status         watch a replay started earlier

\`subgate apple <command> --help\` prints a command's options and examples.

Examples:
  subgate apple test-notification --app app_123
  subgate apple replay --app app_123 --since 24h
  subgate apple replay-status --app app_123 --id hr_123`;
