import { existsSync } from "node:fs";

/**
 * The environment of a command run from the repository (`npm start`, `npm run keys:rotate`) or an
 * image: `.env` and `.subgate/` belong to the folder npm was started from (INIT_CWD), and the
 * environment wins over the file. Only the entry points call this; everything else takes a config.
 */
export function readEnvironment(): Record<string, string | undefined> {
  process.chdir(process.env.INIT_CWD || process.cwd());
  if (existsSync(".env")) process.loadEnvFile(".env");
  return process.env;
}
