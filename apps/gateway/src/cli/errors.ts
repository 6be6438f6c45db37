/**
 * Exit codes of the `subgate` CLI: scripts tell a wrong command line (fix the script) from a failure
 * of the gateway, of Apple or of a wait (look at the gateway), and both from a Ctrl-C.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/**
 * An error the CLI reports as a line (or as `{"error": {...}}` with --json) and an exit code, never
 * as a stack trace. `fields` go into the JSON error beside `code` and `message`; `hints` are what to
 * check next, printed under the message (and as `hints` in JSON).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: number,
    readonly fields: Record<string, unknown> = {},
    readonly hints: readonly string[] = [],
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** The command line is wrong: exit 2, with a pointer to the command's help. */
export class UsageError extends CliError {
  constructor(
    message: string,
    /** The command whose --help explains it, such as "apple replay"; empty for the top level. */
    readonly command: string,
  ) {
    super(message, "usage", EXIT.usage);
    this.name = "UsageError";
  }
}

/** The gateway answered with an error body: its `error` object is reported as the gateway wrote it. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly body: { code: string; message: string } & Record<string, unknown>,
  ) {
    super(body.message, body.code, EXIT.failed);
    this.name = "ApiError";
  }
}

/** Ctrl-C while watching: the work on the gateway goes on, and the message says how to watch again. */
export class InterruptedError extends CliError {
  constructor(message: string, fields: Record<string, unknown> = {}, hints: readonly string[] = []) {
    super(message, "interrupted", EXIT.interrupted, fields, hints);
    this.name = "InterruptedError";
  }
}
