export * from "./errors.ts";
export * from "./ids.ts";
export * from "./logger.ts";
export * from "./secrets.ts";
