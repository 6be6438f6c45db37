export * from "./config.ts";
export * from "./encryption-check.ts";
export * from "./encryption-key.ts";
export * from "./gateway.ts";
export * from "./http-app.ts";
export * from "./http-listener.ts";
export * from "./key-rotation.ts";
