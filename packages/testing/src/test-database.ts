import { inject } from "vitest";
import "./provided-context.ts";
import { createTestDatabase, type TestDatabase } from "./databases.ts";

/** In a test file: a database of its own, migrated, cloned from the run's template. */
export function useTestDatabase(): Promise<TestDatabase> {
  return createTestDatabase(inject("templateDatabase"), inject("testRunId"));
}
