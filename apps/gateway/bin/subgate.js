#!/usr/bin/env node
// The `subgate` command (the bin of @subgate/gateway). The repository has no build step: this
// registers tsx, so Node can load the CLI's TypeScript, then runs it.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
