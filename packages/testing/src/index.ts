export * from "./databases.ts";
export * from "./test-database.ts";
