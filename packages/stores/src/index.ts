export * from "./adapter.ts";
export * from "./checks.ts";
export * from "./registry.ts";
export * from "./stripe/index.ts";
