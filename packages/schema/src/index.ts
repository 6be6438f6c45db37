export * from "./enums.ts";
export * from "./event.ts";
export * from "./subscription-state.ts";
export * from "./time-windows.ts";
