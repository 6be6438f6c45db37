import type { Environment } from "@subgate/schema";

/** Apple's environments that Apple signs, as subgate records them. */
const SIGNED_ENVIRONMENTS: Readonly<Record<string, Environment>> = { Sandbox: "sandbox", Production: "production" };

/** Xcode's and StoreKit Testing's payloads, which Apple's tools leave unsigned. */
export const LOCAL_ENVIRONMENTS: readonly string[] = ["Xcode", "LocalTesting"];

/** subgate's environment for one of Apple's; local environments file under sandbox. Null: unknown. */
export function environmentOf(apple: string): Environment | null {
  if (LOCAL_ENVIRONMENTS.includes(apple)) return "sandbox";
  return SIGNED_ENVIRONMENTS[apple] ?? null;
}
