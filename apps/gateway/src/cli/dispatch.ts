import { parseArgs } from "node:util";
import { appleReplayCommand, appleReplayStatusCommand } from "./apple-replay.ts";
import { appleTestNotificationCommand } from "./apple-test-notification.ts";
import { type Command, COMMON_OPTIONS, type Context, type OptionName, OPTIONS, type Values } from "./command.ts";
import { ApiError, CliError, EXIT, UsageError } from "./errors.ts";
import { APPLE_USAGE, TOP_USAGE } from "./help.ts";
import { GatewayClient } from "./http.ts";
import { type Io, printable, writeJson } from "./output.ts";
import { statusCommand } from "./status.ts";

export const DEFAULT_URL = "http://localhost:3000";

const COMMANDS: readonly Command[] = [statusCommand, appleTestNotificationCommand, appleReplayCommand, appleReplayStatusCommand];
const APPLE_COMMANDS = COMMANDS.filter((command) => command.name.startsWith("apple ")).map((command) => command.name.slice(6));

/** What the words of a command line name: a command, the `apple` group, or nothing (the top level). */
type Target = { command: Command } | { usage: string; name: string; missing: string };

/** The variables the CLI reads. Not `.env`: that file configures the gateway, not its clients. */
export interface CliEnvironment {
  SUBGATE_URL?: string | undefined;
  SUBGATE_API_KEY?: string | undefined;
}

/** Runs one command line; resolves with the exit code. Every error ends here as a line (or JSON), never a stack. */
export async function runCli(argv: string[], env: CliEnvironment, io: Io): Promise<number> {
  const json = wantsJson(argv);
  try {
    return await dispatch(argv, env, io, json);
  } catch (error) {
    return reportError(error, io, json);
  }
}

async function dispatch(argv: string[], env: CliEnvironment, io: Io, json: boolean): Promise<number> {
  // A first, lenient look finds the command's words and --help, so `subgate status --help` prints
  // help even with other mistakes on the line; the strict parse below then judges the options.
  const loose = parseArgs({ args: argv, options: OPTIONS, strict: false, allowPositionals: true });
  let words = loose.positionals;
  let help = loose.values.help === true;
  if (words[0] === "help") {
    words = words.slice(1);
    help = true;
  }
  const target = resolve(words, help);
  if (help) {
    io.stdout.write(`${"command" in target ? target.command.usage : target.usage}\n`);
    return EXIT.ok;
  }
  if (!("command" in target)) throw new UsageError(target.missing, target.name);
  const { command } = target;
  const values = strictValues(argv, command);
  return command.run(context(command, values, env, io, json));
}

function resolve(words: string[], help: boolean): Target {
  const [first, second, ...rest] = words;
  const top = { usage: TOP_USAGE, name: "", missing: "missing command" };
  if (first === undefined) return top;
  if (first === "apple") {
    if (second === undefined) return { usage: APPLE_USAGE, name: "apple", missing: `missing apple command (${APPLE_COMMANDS.join(", ")})` };
    const command = COMMANDS.find((candidate) => candidate.name === `apple ${second}`);
    if (!command) throw new UsageError(`unknown apple command "${second}" (${APPLE_COMMANDS.join(", ")})`, "apple");
    if (rest.length > 0 && !help) throw new UsageError(`unexpected argument "${rest[0]}"`, command.name);
    return { command };
  }
  const command = COMMANDS.find((candidate) => candidate.name === first);
  if (!command) throw new UsageError(`unknown command "${first}"`, "");
  if (second !== undefined && !help) throw new UsageError(`unexpected argument "${second}"`, command.name);
  return { command };
}

/** The strict parse: an unknown option, a missing value, or an option this command does not take is a usage error. */
function strictValues(argv: string[], command: Command): Values {
  let values: Values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true }).values;
  } catch (error) {
    throw new UsageError(parseArgsProblem(error), command.name);
  }
  const allowed = new Set<OptionName>([...COMMON_OPTIONS, ...command.options]);
  for (const name of Object.keys(values) as OptionName[]) {
    if (!allowed.has(name)) throw new UsageError(`${command.name} takes no --${name}`, command.name);
  }
  return values;
}

/** parseArgs explains at length how to pass a positional that starts with "-"; a CLI user needs one line. */
function parseArgsProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as NodeJS.ErrnoException).code;
  const option = /'(-[^' ]*)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) return `unknown option ${option}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option) {
    return message.includes("argument missing") ? `${option} needs a value` : `${option} takes no value`;
  }
  return message.split(/\.\s/)[0] ?? message;
}

function context(command: Command, values: Values, env: CliEnvironment, io: Io, json: boolean): Context {
  const urlText = values.url ?? nonEmpty(env.SUBGATE_URL) ?? DEFAULT_URL;
  return {
    values,
    io,
    json,
    now: () => new Date(),
    connectionHint: urlText === DEFAULT_URL ? "" : ` --url ${urlText}`,
    client() {
      const source = values.url !== undefined ? "--url" : nonEmpty(env.SUBGATE_URL) ? "SUBGATE_URL" : "the default URL";
      const apiKey = values["api-key"] ?? nonEmpty(env.SUBGATE_API_KEY);
      if (apiKey === undefined || apiKey === "") {
        throw new UsageError("no API key: pass --api-key or set SUBGATE_API_KEY (the app's sk_... key or the admin token)", command.name);
      }
      // A token with a space or a control character cannot go in a header; fetch would call it a network error.
      if (!/^[\x21-\x7e]+$/.test(apiKey)) throw new UsageError("the API key has characters a bearer token cannot have", command.name);
      return new GatewayClient(baseUrl(urlText, source, command), apiKey);
    },
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/** An http(s) URL; PUBLIC_BASE_URL may have a path, so one is kept (without its trailing slash). */
function baseUrl(text: string, source: string, command: Command): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${source}: "${text}" is not a URL (such as http://localhost:3000)`, command.name);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError(`${source}: "${text}" is not an http or https URL`, command.name);
  if (url.search || url.hash || url.username || url.password) {
    throw new UsageError(`${source}: "${text}" must have no query, fragment or credentials`, command.name);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** --json anywhere before a "--": errors of the parse itself are then JSON too. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

function reportError(error: unknown, io: Io, json: boolean): number {
  if (!(error instanceof CliError)) {
    // A bug in the CLI: still one line, and the exit code of a failure.
    const message = `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
    if (json) writeJson(io, { error: { code: "internal", message } });
    else io.stderr.write(`subgate: ${printable(message)}\n`);
    return EXIT.failed;
  }
  if (json) {
    const body =
      error instanceof ApiError
        ? error.body
        : { code: error.code, message: error.message, ...error.fields, ...(error.hints.length ? { hints: error.hints } : {}) };
    writeJson(io, { error: body });
    return error.exitCode;
  }
  io.stderr.write(`subgate: ${humanLine(error)}\n`);
  for (const hint of error.hints) io.stderr.write(`  ${printable(hint)}\n`);
  return error.exitCode;
}

function humanLine(error: CliError): string {
  if (error instanceof UsageError) return `${printable(error.message)} (see: subgate${error.command ? ` ${error.command}` : ""} --help)`;
  if (error instanceof ApiError) {
    const requestId = typeof error.body.request_id === "string" ? `, request id ${error.body.request_id}` : "";
    return `${printable(error.message)} (HTTP ${error.status} ${printable(error.code)}${printable(requestId)})`;
  }
  return printable(error.message);
}
