// `subgate`, the CLI: loaded by bin/subgate.js. The only module of the CLI that reads process.env and argv.
import { runCli } from "./dispatch.ts";
import { processIo } from "./output.ts";

// `subgate status | head -1` closes stdout early: that is the reader's choice, not an error to trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}
// Whatever escapes still ends as one line: the CLI never prints a stack trace.
process.on("uncaughtException", (error) => {
  process.stderr.write(`subgate: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

process.exitCode = await runCli(process.argv.slice(2), process.env, processIo);
