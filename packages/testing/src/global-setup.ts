import type { TestProject } from "vitest/node";
import { dropTestDatabases, newTestRunId, prepareTemplateDatabase } from "./databases.ts";

import "./provided-context.ts";

/** Runs once per `vitest run`: migrates the template database every test file clones. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = newTestRunId();
  await dropTestDatabases();
  project.provide("templateDatabase", await prepareTemplateDatabase());
  project.provide("testRunId", runId);
  return () => dropTestDatabases(runId);
}
