export * from "./endpoint-filter.ts";
export * from "./fan-out.ts";
export * from "./ledger.ts";
export * from "./sequence.ts";
export * from "./state.ts";
