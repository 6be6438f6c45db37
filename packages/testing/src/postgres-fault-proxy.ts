import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of the real PostgreSQL that can make it fail the way PostgreSQL and networks
 * fail, for the states a shared test server cannot be put in (shutting down, starting up, crashed):
 * - `refuse(sqlState)`: every connection, open or new, ends; new ones are answered as PostgreSQL
 *   answers a connection it will not take, with a FATAL ErrorResponse of that SQLSTATE;
 * - `down()`: nothing listens any more (connection refused), and open connections are cut;
 * - `heal()`: forwards again.
 * The client is the real pg driver, so it sees real protocol messages and real socket errors.
 */
export class PostgresFaultProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private refusal: { sqlState: string; message: string } | null = null;
  private boundPort = 0;

  constructor(private readonly target: { host: string; port: number } = { host: "127.0.0.1", port: 5432 }) {}

  async start(): Promise<this> {
    await this.listen(0);
    return this;
  }

  get port(): number {
    return this.boundPort;
  }

  /** `databaseUrl` with its host and port replaced by the proxy's. */
  url(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = "127.0.0.1";
    url.port = String(this.boundPort);
    return url.toString();
  }

  refuse(sqlState: string, message = `refused by the test proxy (${sqlState})`): void {
    this.refusal = { sqlState, message };
    this.cutAll();
  }

  async down(): Promise<void> {
    this.cutAll();
    const server = this.server;
    this.server = null;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  async heal(): Promise<void> {
    this.refusal = null;
    if (!this.server) await this.listen(this.boundPort);
  }

  async close(): Promise<void> {
    await this.down();
  }

  private cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.on("close", () => this.sockets.delete(client));
    client.on("error", () => client.destroy());
    const refusal = this.refusal;
    if (refusal) {
      // The startup packet is read first, as PostgreSQL does before it answers with an error.
      client.once("data", () => client.end(errorResponse(refusal.sqlState, refusal.message)));
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    this.sockets.add(upstream);
    upstream.on("close", () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => upstream.destroy());
    client.on("close", () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** A FATAL ErrorResponse ('E') as PostgreSQL writes it: severity, SQLSTATE, message. */
function errorResponse(sqlState: string, message: string): Buffer {
  const fields = Buffer.concat([field("S", "FATAL"), field("V", "FATAL"), field("C", sqlState), field("M", message), Buffer.from([0])]);
  const header = Buffer.alloc(5);
  header.write("E", 0, "ascii");
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

function field(code: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(code, "ascii"), Buffer.from(value, "utf8"), Buffer.from([0])]);
}
