export * from "./adapter.ts";
export * from "./apple/index.ts";
export * from "./build-registry.ts";
export * from "./checks.ts";
export * from "./notification-row.ts";
export * from "./registry.ts";
export * from "./store-module.ts";
export * from "./stripe/index.ts";
