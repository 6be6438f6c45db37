export * from "./databases.ts";
export * from "./holding-receiver.ts";
export * from "./postgres-fault-proxy.ts";
export * from "./stripe-api.ts";
export * from "./stripe-events.ts";
export * from "./test-database.ts";
export * from "./tls-certificate.ts";
export * from "./webhook-receiver.ts";
