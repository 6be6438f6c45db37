import type { Io } from "./output.ts";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const FRAME_MS = 100;

/**
 * A one-line spinner on stderr while a command waits. Only on a terminal: in a pipe or a CI log,
 * a hundred redrawn lines would bury the result, so there it writes nothing.
 */
export class Spinner {
  private frame = 0;
  private text = "";
  private readonly timer: NodeJS.Timeout | null;

  constructor(private readonly stream: Io["stderr"]) {
    this.timer = stream.isTTY ? setInterval(() => this.render(), FRAME_MS) : null;
    this.timer?.unref();
  }

  update(text: string): void {
    this.text = text;
    this.render();
  }

  /** Clears the line, so what follows starts on a clean one. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.stream.write("\r\x1b[2K");
  }

  private render(): void {
    if (!this.timer) return;
    const frame = FRAMES[this.frame++ % FRAMES.length];
    // Cut to the terminal's width: a wrapped line would not be cleared by the next frame.
    const line = `${frame} ${this.text}`.slice(0, Math.max(10, (this.stream.columns ?? 80) - 1));
    this.stream.write(`\r\x1b[2K${line}`);
  }
}
