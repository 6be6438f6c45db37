import { spawn, type ChildProcessByStdio } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually } from "@subgate/testing";
import { connectionRefused, readLogLines, REPO_ROOT, type LogLine } from "./gateway-process.ts";
import { ADMIN_TOKEN, createTestEnvironment, type TestEnvironment } from "./harness.ts";

/*
 * `npm start` as a developer or a process manager runs it, then SIGTERM to npm's pid (what `kill
 * <pid>` and most supervisors send). npm runs the script through `sh -c`, and neither npm's signal
 * forwarding (it signals the shell) nor the shell passes SIGTERM on to the gateway: without help the
 * gateway would stay behind as an orphan, still serving. The gateway notices its parent is gone
 * and shuts down gracefully on its own.
 */

const PARENT_EXITED = "the parent process exited (npm does not pass SIGTERM on to the gateway)";
const SHUTTING_DOWN = "shutting down: finishing requests and jobs in flight";

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Parent pid and state of a process, from /proc (Linux); null once it is gone. */
function procStat(pid: number): { ppid: number; state: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(ppid), state: state ?? "" };
  } catch {
    return null;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** Every process below `root` (children, grandchildren, ...). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat) parents.set(Number(entry), stat.ppid);
  }
  const found: number[] = [];
  let frontier = [root];
  while (frontier.length) {
    const next: number[] = [];
    for (const [pid, ppid] of parents) if (frontier.includes(ppid)) next.push(pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}

/** Still running: signal 0 reaches it (ESRCH: gone), and it is not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
  return procStat(pid)?.state !== "Z";
}

/** `npm start` of the repository, its JSON log lines parsed as they come. */
class NpmStart {
  readonly logs: LogLine[] = [];
  output = "";
  /** npm's own exit ("exit": the gateway may still hold the output pipe open). */
  readonly exited: Promise<Exit>;
  /** The output pipe closed: every process that held it (npm, sh, the gateway) has gone. */
  readonly outputClosed: Promise<void>;
  private npmExit: Exit | null = null;

  constructor(readonly child: ChildProcessByStdio<null, Readable, Readable>) {
    readLogLines(child, this); // npm's "> subgate@0.1.0 start" banner is not a log line
    this.exited = new Promise((resolvePromise) =>
      child.once("exit", (code, signal) => {
        this.npmExit = { code, signal };
        resolvePromise(this.npmExit);
      }),
    );
    this.outputClosed = new Promise((resolvePromise) => child.stdout.once("close", () => resolvePromise()));
  }

  get npmRunning(): boolean {
    return this.npmExit === null;
  }

  get messages(): string[] {
    return this.logs.map((log) => log.msg);
  }

  async waitForLog(msg: string, timeoutMs = 30_000): Promise<LogLine> {
    return eventually(
      async () => {
        const line = this.logs.find((log) => log.msg === msg);
        if (line) return line;
        if (!this.npmRunning) throw new Error(`npm exited (${JSON.stringify(this.npmExit)}) before "${msg}":\n${this.output}`);
        return undefined;
      },
      timeoutMs,
      `"${msg}" logged:\n${this.output}`,
    );
  }
}

describe.skipIf(process.platform !== "linux")("npm start, then SIGTERM to npm only", () => {
  let env: TestEnvironment;
  let dir: string;
  let npm: NpmStart | null = null;
  /** Every process npm started (sh, the gateway), for the safety net. */
  let started: number[] = [];

  beforeEach(async () => {
    env = await createTestEnvironment();
    dir = await mkdtemp(join(tmpdir(), "subgate-npm-"));
    started = [];
  });

  afterEach(async () => {
    // Safety net: nothing of this test stays behind, whatever failed.
    if (npm?.npmRunning) npm.child.kill("SIGKILL");
    for (const pid of started) if (alive(pid)) process.kill(pid, "SIGKILL");
    if (npm) await eventually(async () => started.every((pid) => !alive(pid)), 5_000, "processes gone");
    npm = null;
    await rm(dir, { recursive: true, force: true });
    await env.close();
  });

  it("stops the gateway gracefully when npm goes away, and frees its port", async () => {
    // INIT_CWD is where `.env` and `.subgate/` are read from. npm always sets it to the folder it is
    // started in (a preset value is overwritten), so npm starts in the temporary folder and finds
    // the repository with --prefix: no file of the repository is read or written.
    const child = spawn("npm", ["--prefix", REPO_ROOT, "start"], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: dir, // npm's cache and logs
        npm_config_update_notifier: "false",
        DATABASE_URL: env.config.databaseUrl,
        REDIS_URL: env.config.redisUrl,
        PORT: "0",
        HOST: "127.0.0.1",
        QUEUE_PREFIX: env.config.queuePrefix,
        SUBGATE_ENCRYPTION_KEY: env.config.encryptionKey,
        SUBGATE_ADMIN_TOKEN: ADMIN_TOKEN,
        SUBGATE_DATA_DIR: join(dir, "data"),
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const run = new NpmStart(child);
    npm = run;
    const npmPid = child.pid!;

    const listening = await run.waitForLog("http server listening");
    await run.waitForLog("worker started");
    const baseUrl = listening.local_url as string;
    const port = Number(new URL(baseUrl).port);
    expect(port).toBeGreaterThan(0);
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);

    // The gateway is npm's grandchild (npm -> sh -c -> node), a process of its own.
    started = descendants(npmPid);
    // `sh -c "node ... main.ts all"` names main.ts too: the gateway is the one below it.
    const named = started.filter((pid) => commandLine(pid).includes("apps/gateway/src/main.ts"));
    const gatewayPid = named.find((pid) => !named.some((other) => procStat(other)?.ppid === pid));
    expect(gatewayPid, `processes below npm: ${started.map((pid) => `${pid} ${commandLine(pid)}`).join("; ")}`).toBeDefined();
    const gateway = gatewayPid!;
    expect(gateway).not.toBe(npmPid);
    for (const log of run.logs) if (log.pid !== undefined) expect(log.pid).toBe(gateway);
    const parentPid = procStat(gateway)!.ppid;
    // With a shell that execs its command, npm would be the parent and pass SIGTERM on itself.
    const npmSignalsGateway = parentPid === npmPid;

    process.kill(npmPid, "SIGTERM");
    const npmExit = await run.exited;
    // npm start returns npm's own status: killed by the signal, or an exit code.
    expect(npmExit.code !== null || npmExit.signal !== null, JSON.stringify(npmExit)).toBe(true);

    await eventually(async () => !alive(gateway), 15_000, `gateway ${gateway} gone:\n${run.output}`);
    await run.outputClosed;

    const messages = run.messages;
    const shuttingDown = run.logs.find((log) => log.msg === SHUTTING_DOWN);
    if (npmSignalsGateway) {
      expect(shuttingDown?.signal).toBe("SIGTERM");
    } else {
      const parentExited = run.logs.find((log) => log.msg === PARENT_EXITED);
      expect(parentExited, run.output).toBeDefined();
      expect(parentExited!.parent_pid).toBe(parentPid);
      expect(shuttingDown?.signal).toBe("parent exited");
      expect(messages.indexOf(PARENT_EXITED)).toBeLessThan(messages.indexOf(SHUTTING_DOWN));
    }
    expect(messages.indexOf(SHUTTING_DOWN), run.output).toBeGreaterThan(messages.indexOf("worker started"));
    expect(messages.indexOf("stopped")).toBeGreaterThan(messages.indexOf(SHUTTING_DOWN));
    // A graceful stop: "stopped" is logged just before process.exit(0), and nothing went wrong.
    expect(messages.at(-1), run.output).toBe("stopped");
    expect(messages).not.toContain("error during shutdown");
    expect(messages).not.toContain("second signal: exiting now");
    expect(run.logs.filter((log) => typeof log.level === "number" && log.level >= 50)).toEqual([]);
    expect(await connectionRefused(port)).toBe(true);
    // Nothing npm started is left running.
    expect(started.filter(alive)).toEqual([]);
  }, 60_000);
});
