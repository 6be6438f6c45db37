import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { ForbiddenTargetError, guardedLookup } from "../src/guarded-connector.ts";

// dns.lookup answers IP literals without a resolver, so these run offline.
function lookupAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    guardedLookup(host, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses as LookupAddress[])));
  });
}

function lookupOne(host: string): Promise<[string, number | undefined]> {
  return new Promise((resolve, reject) => {
    guardedLookup(host, {}, (error, address, family) => (error ? reject(error) : resolve([address as string, family])));
  });
}

describe("guardedLookup", () => {
  it("passes public addresses through in both callback shapes", async () => {
    await expect(lookupAll("8.8.8.8")).resolves.toEqual([{ address: "8.8.8.8", family: 4 }]);
    await expect(lookupOne("8.8.8.8")).resolves.toEqual(["8.8.8.8", 4]);
  });

  it("fails when only forbidden addresses are left", async () => {
    await expect(lookupAll("127.0.0.1")).rejects.toBeInstanceOf(ForbiddenTargetError);
    await expect(lookupOne("localhost")).rejects.toThrow("blocked: resolves to a private address");
  });
});
