export * from "./history-replay.ts";
export * from "./interrupted-attempts.ts";
export * from "./process-notification.ts";
export * from "./retry-later.ts";
export * from "./send-delivery.ts";
export * from "./sweeper.ts";
export * from "./workers.ts";
