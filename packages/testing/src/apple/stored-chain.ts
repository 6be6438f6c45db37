import "reflect-metadata";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { createAppleTestChain } from "./chain.ts";
import type { AppleJwsSigner } from "./jws.ts";

/*
 * The local Apple test chain the command-line helpers (apple:sign, apple:fake-api) share: made once
 * and kept in a folder (`.subgate/apple-test-chain/` by default), so a gateway started with
 * APPLE_ROOT_CERTS=<folder>/root.pem trusts everything they sign.
 */

interface StoredChain {
  root: string;
  intermediate: string;
  leaf: string;
  leafKey: string;
}

export async function loadOrCreateAppleTestChain(dir: string): Promise<AppleJwsSigner> {
  const file = join(dir, "chain.json");
  if (existsSync(file)) return fromStored(JSON.parse(readFileSync(file, "utf8")) as StoredChain);
  const chain = await createAppleTestChain();
  mkdirSync(dir, { recursive: true });
  const stored: StoredChain = {
    root: chain.root.pem,
    intermediate: chain.intermediate.pem,
    leaf: chain.leaf.pem,
    leafKey: chain.leafPrivateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  };
  writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
  writeFileSync(join(dir, "root.pem"), chain.root.pem);
  const root = relative(process.cwd(), join(dir, "root.pem"));
  console.error(`created a local Apple test chain; trust it with APPLE_ROOT_CERTS=${root.startsWith("..") ? join(dir, "root.pem") : root}`);
  return chain;
}

/** What signing needs of a stored chain: the three certificates in x5c order and the leaf's key. */
function fromStored(stored: StoredChain): AppleJwsSigner {
  const base64 = (pem: string) => Buffer.from(new X509Certificate(pem).raw).toString("base64");
  return {
    x5c: [base64(stored.leaf), base64(stored.intermediate), base64(stored.root)],
    leafPrivateKey: createPrivateKey(stored.leafKey),
  };
}
