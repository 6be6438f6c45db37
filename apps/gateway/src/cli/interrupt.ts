import { EXIT } from "./errors.ts";

export interface Interrupt {
  signal: AbortSignal;
  dispose(): void;
}

/**
 * Ctrl-C while a command watches work that goes on at the gateway (a replay, Apple's delivery): the
 * first one aborts `signal`, so the command stops polling, clears its progress line and says how to
 * watch again; a second one exits at once.
 */
export function watchInterrupt(): Interrupt {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  return { signal: controller.signal, dispose: () => process.off("SIGINT", onSigint) };
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller checks which). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
