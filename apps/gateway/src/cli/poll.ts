import { ApiError, type CliError, InterruptedError } from "./errors.ts";
import { sleep, watchInterrupt } from "./interrupt.ts";

/** A watch outlives one bad moment: a 503 (subgate says retry later) or a dropped connection is tried again at the next tick. */
const MAX_MISSES_IN_A_ROW = 3;

export interface PollOptions<T> {
  /** One look; `signal` is Ctrl-C, which drops a request in flight. */
  look(signal: AbortSignal): Promise<T>;
  /** True when watching is over. */
  done(value: T): boolean;
  /** Each answer, as it comes (to redraw a progress line). */
  seen?(value: T): void;
  intervalMs: number;
  /** Stop at this time (Date.now()) even if not done. */
  deadline?: number;
}

/** How the watch ended, with the last answer (none if Ctrl-C came before the first). */
export type Polled<T> = { outcome: "done" | "timed_out"; value: T } | { outcome: "interrupted"; value: T | null };

/** Looks every `intervalMs` until `done`, the deadline, or Ctrl-C. */
export async function poll<T>(options: PollOptions<T>): Promise<Polled<T>> {
  const interrupt = watchInterrupt();
  let last: { value: T } | null = null;
  let misses = 0;
  try {
    for (;;) {
      try {
        last = { value: await options.look(interrupt.signal) };
        misses = 0;
        options.seen?.(last.value);
        if (options.done(last.value)) return { outcome: "done", value: last.value };
      } catch (error) {
        if (error instanceof InterruptedError) break;
        if (!isPassing(error) || ++misses >= MAX_MISSES_IN_A_ROW) throw error;
      }
      const left = options.deadline === undefined ? options.intervalMs : options.deadline - Date.now();
      if (left <= 0 && last) return { outcome: "timed_out", value: last.value };
      await sleep(Math.max(0, Math.min(options.intervalMs, left)), interrupt.signal);
      if (interrupt.signal.aborted) break;
    }
    return { outcome: "interrupted", value: last?.value ?? null };
  } finally {
    interrupt.dispose();
  }
}

function isPassing(error: unknown): boolean {
  if (error instanceof ApiError) return error.status === 503;
  return (error as CliError | undefined)?.code === "unreachable";
}
