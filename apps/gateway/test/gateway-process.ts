import { spawn, type ChildProcessByStdio } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Role } from "../src/gateway.ts";

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "../src/main.ts");
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
    let pending = "";
    child.stdout.on("data", (chunk: Buffer) => {
      this.output += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // not a log line
        }
      }
      this.notify();
    });
    child.stderr.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
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
