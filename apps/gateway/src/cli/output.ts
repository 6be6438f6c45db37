import type { Writable } from "node:stream";

/** Where a command writes: results to stdout, progress and human messages to stderr. */
export interface Io {
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean; columns?: number };
}

export const processIo: Io = { stdout: process.stdout, stderr: process.stderr };

/** One JSON document on stdout: what --json promises a script, errors included. */
export function writeJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Text from the gateway (a rejection reason, an error message) before it goes to a terminal:
 * control characters are shown escaped, so whatever answers at --url cannot move the cursor or
 * rewrite what the reader sees.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
