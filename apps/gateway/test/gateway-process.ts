import { spawn, type ChildProcessByStdio } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Role } from "../src/gateway.ts";

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "../src/main.ts");
/** The repository's root, where npm runs its scripts. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
// An absolute URL: the process runs in a temporary folder, where `--import tsx` would not resolve.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface LogLine {
  msg: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `tsx src/main.ts <role>` as a real process, as an orchestrator starts and signals it. It runs in a
 * temporary folder (also its INIT_CWD), so no `.env` or `.subgate/` of the repository is involved.
 */
export class GatewayProcess {
  readonly logs: LogLine[] = [];
  /** Everything it printed, for failure messages. */
  output = "";
  readonly exited: Promise<Exit>;
  private exit: Exit | null = null;
  private readonly listeners = new Set<() => void>();

  private constructor(
    private readonly child: ChildProcessByStdio<null, Readable, Readable>,
    private readonly dir: string,
  ) {
    readLogLines(child, this, () => this.notify());
    this.exited = new Promise((resolvePromise) => {
      // "close", not "exit": by then everything it printed has been read.
      child.on("close", (code, signal) => {
        this.exit = { code, signal };
        this.notify();
        resolvePromise(this.exit);
      });
    });
  }

  static async start(role: Role, env: Record<string, string>): Promise<GatewayProcess> {
    const dir = await mkdtemp(join(tmpdir(), "subgate-process-"));
    const child = spawn(process.execPath, ["--import", TSX, MAIN, role], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", HOME: dir, INIT_CWD: dir, LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new GatewayProcess(child, dir);
  }

  /** The base URL from its "... listening" log line. */
  get url(): string {
    const line = this.logs.find((log) => log.msg.endsWith("server listening"));
    if (typeof line?.local_url !== "string") throw new Error(`no "listening" log line yet:\n${this.output}`);
    return line.local_url;
  }

  get running(): boolean {
    return this.exit === null;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Resolves with the first log line with this message; fails if the process exits before. */
  waitForLog(msg: string, timeoutMs = 15_000): Promise<LogLine> {
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => done(new Error(`no "${msg}" log line after ${timeoutMs} ms:\n${this.output}`)), timeoutMs);
      const check = () => {
        const line = this.logs.find((log) => log.msg === msg);
        if (line) done(null, line);
        else if (this.exit) done(new Error(`exited (${JSON.stringify(this.exit)}) before logging "${msg}":\n${this.output}`));
      };
      const done = (error: Error | null, line?: LogLine) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error) reject(error);
        else resolvePromise(line as LogLine);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The messages logged so far, in order. */
  get messages(): string[] {
    return this.logs.map((log) => log.msg);
  }

  /** Kills it if it still runs (a test that failed midway) and removes its folder. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
    await rm(this.dir, { recursive: true, force: true });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Parses a child's stdout into JSON log lines as they come (other lines, such as npm's banner, are
 * kept in `output` only), collects stdout and stderr into `output`, and calls `changed` after each chunk.
 */
export function readLogLines(
  child: ChildProcessByStdio<null, Readable, Readable>,
  into: { logs: LogLine[]; output: string },
  changed: () => void = () => {},
): void {
  let pending = "";
  child.stdout.on("data", (chunk: Buffer) => {
    into.output += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        into.logs.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line
      }
    }
    changed();
  });
  child.stderr.on("data", (chunk: Buffer) => (into.output += chunk.toString()));
}

/** True when nothing listens on the port any more (a new connection is refused). */
export function connectionRefused(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolvePromise(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolvePromise(error.code === "ECONNREFUSED"));
  });
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a script of the repository (`apps/gateway/src/main.ts`, `.../rotate-keys.ts`) with
 * `node --import tsx` from the repository root until it exits, as npm would (INIT_CWD is `initCwd`,
 * so no `.env` of the repository is read). Fails if it runs longer than `timeoutMs`.
 */
export function runToExit(
  script: string,
  args: string[],
  env: Record<string, string>,
  options: { initCwd: string; timeoutMs?: number },
): Promise<Finished> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: options.initCwd, INIT_CWD: options.initCwd, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not exit within ${timeoutMs} ms; stdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
