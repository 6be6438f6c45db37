import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { invoiceObject } from "./stripe-objects.ts";

/** The invoice the Stripe object builders' charges name (`charge.invoice` in older payloads). */
export const RENEWAL_INVOICE_ID = "in_1QmZy82Hq2Lk9TbVrenew";

/**
 * A local stand-in for the Stripe REST API, as subgate's refund lookup uses it: `GET
 * /v1/invoices/{id}` answers the invoice (older payload shape) to the given API key, after failing
 * with 500 `failuresLeft` times. Everything else is Stripe's 404. Nothing leaves the machine.
 */
export class LocalStripeApi {
  failuresLeft = 0;
  readonly requests: { path: string; status: number }[] = [];
  url = "";
  private server: Server | null = null;

  constructor(private readonly apiKey: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      let status = 404;
      let body: unknown = { error: { type: "invalid_request_error", message: `no route ${path}` } };
      if (path === `/v1/invoices/${RENEWAL_INVOICE_ID}` && req.headers.authorization === `Bearer ${this.apiKey}`) {
        if (this.failuresLeft > 0) {
          this.failuresLeft -= 1;
          status = 500;
          body = { error: { type: "api_error", message: "An unknown error occurred" } };
        } else {
          status = 200;
          body = invoiceObject({ shape: "legacy", id: RENEWAL_INVOICE_ID });
        }
      }
      this.requests.push({ path, status });
      res.writeHead(status, { "content-type": "application/json", "request-id": "req_local" });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }
}
