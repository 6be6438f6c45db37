export * from "./describe-error.ts";
export * from "./errors.ts";
export * from "./first-issue.ts";
export * from "./ids.ts";
export * from "./logger.ts";
export * from "./request-context.ts";
export * from "./secrets.ts";
export * from "./storable.ts";
