import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A webhook endpoint that holds every request unanswered (a slow receiver, while its sender is
 * signalled or killed) until `answerFromNow()`; from then on it answers everything 200 at once.
 */
export class HoldingReceiver {
  /** Every request, in order of arrival: its webhook-id and when it arrived (ms). */
  readonly received: { webhookId: string; at: number }[] = [];
  url = "";
  private server: Server | null = null;
  private letGo!: () => void;
  private readonly released = new Promise<void>((resolve) => (this.letGo = resolve));
  private arrived!: () => void;
  /** Resolves once the first webhook has arrived, unanswered. */
  readonly firstArrived = new Promise<void>((resolve) => (this.arrived = resolve));

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on("end", async () => {
        this.received.push({ webhookId: String(req.headers["webhook-id"]), at: Date.now() });
        this.arrived();
        await this.released;
        // A held request whose sender died has no socket left to answer on.
        if (!res.destroyed) res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
    return this;
  }

  answerFromNow(): void {
    this.letGo();
  }

  async close(): Promise<void> {
    this.letGo();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
