import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { REPO_ROOT } from "./gateway-process.ts";

/** The bin as npm links it; run from the repository root, as `npx subgate` would be. */
export const SUBGATE_BIN = "apps/gateway/bin/subgate.js";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `subgate <args>` as a child process (`node apps/gateway/bin/subgate.js`, or `npx --no-install
 * subgate` to prove npm linked the bin) with `env` and nothing of the caller's SUBGATE_* variables.
 */
export function runSubgate(
  args: string[],
  env: Record<string, string> = {},
  /** interruptOn: a Ctrl-C (SIGINT) once stderr matches it, as a user who has seen enough. */
  options: { npx?: boolean; timeoutMs?: number; interruptOn?: RegExp } = {},
): Promise<CliRun> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const inherited = { ...process.env };
  delete inherited.SUBGATE_URL;
  delete inherited.SUBGATE_API_KEY;
  // --no-install: a bin that is not linked fails here, instead of npx fetching a package of that name.
  const [command, commandArgs] = options.npx ? ["npx", ["--no-install", "subgate", ...args]] : [process.execPath, [SUBGATE_BIN, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { cwd: REPO_ROOT, env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    let interrupted = false;
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (options.interruptOn?.test(stderr) && !interrupted) {
        interrupted = true;
        child.kill("SIGINT");
      }
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`subgate ${args.join(" ")} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A local port nothing listens on: bound by the system, then let go. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

/** What a CLI error must never look like: a stack trace's "    at fn (file:line)" lines. */
export const STACK_FRAME = /^\s+at .+[:(]/m;
