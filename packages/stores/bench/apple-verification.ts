// @peculiar/x509 (subgate's certificate reader and the test chains) needs the Reflect metadata API first.
import "reflect-metadata";
import { Environment, SignedDataVerifier } from "@apple/app-store-server-library";
import { signAppleNotification, TEST_APP_APPLE_ID, TEST_BUNDLE_ID, createAppleTestChain } from "@subgate/testing/apple";
import { randomUUID, verify as cryptoVerify, X509Certificate } from "node:crypto";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import type { AppleConfig } from "../src/apple/config.ts";
import { AppleJwsVerifier } from "../src/apple/jws/index.ts";
import { verifyAppleV2 } from "../src/apple/v2/verify.ts";

/*
 * Full verification of App Store Server Notifications V2, subgate against Apple's App Store Server
 * Library, offline (certificate dates at signedDate, no OCSP), on one thread, one notification at a time.
 *
 * - N distinct notifications (distinct UUIDs, transactions and renewal infos), one test chain, each
 *   carrying a signed transaction and a signed renewal info: three ES256 JWS per notification.
 * - subgate: verifyAppleV2 (outer JWS, both nested JWS, shape and identity checks).
 *   Apple: verifyAndDecodeNotification + verifyAndDecodeTransaction + verifyAndDecodeRenewalInfo.
 * - Every round verifies every notification from scratch. Only chain caches carry over between
 *   rounds: subgate's verified-chain cache (keyed by the x5c certificates); Apple's library caches
 *   nothing with online checks off. Nothing is cached by payload or signature.
 * - Both are warmed up, then their rounds interleave (subgate, Apple, raw, subgate, Apple, raw, ...),
 *   so drift on a noisy machine hits both alike; the headline is the median of per-round ratios.
 * - Baseline: three raw crypto.verify ES256 calls per notification on the same signatures, with the
 *   leaf's KeyObject prepared once and the bytes decoded beforehand: the floor of the crypto alone.
 *
 * Env: BENCH_ROUNDS (default 7), BENCH_NOTIFICATIONS (default 1000), BENCH_WARMUP_ROUNDS (default 2).
 * Exits non-zero only on an error, never on a missed target.
 */

const TARGET_RATIO = 10;

function positiveIntegerFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

const ROUNDS = positiveIntegerFromEnv("BENCH_ROUNDS", 7);
const COUNT = positiveIntegerFromEnv("BENCH_NOTIFICATIONS", 1000);
const WARMUP_ROUNDS = positiveIntegerFromEnv("BENCH_WARMUP_ROUNDS", 2);

const CONFIG: AppleConfig = { bundleId: TEST_BUNDLE_ID, appAppleId: TEST_APP_APPLE_ID, sharedSecret: null };

interface RawJws {
  signingInput: Buffer;
  signature: Buffer;
}

interface Fixture {
  signedPayload: string;
  transactionId: string;
  /** The notification's three JWS, cut and decoded for the raw baseline. */
  raw: [RawJws, RawJws, RawJws];
}

function rawJws(jws: string): RawJws {
  const end = jws.lastIndexOf(".");
  return { signingInput: Buffer.from(jws.slice(0, end), "latin1"), signature: Buffer.from(jws.slice(end + 1), "base64url") };
}

const TYPES: readonly [string, string | undefined][] = [
  ["DID_RENEW", undefined],
  ["DID_RENEW", "BILLING_RECOVERY"],
  ["SUBSCRIBED", "INITIAL_BUY"],
  ["DID_CHANGE_RENEWAL_STATUS", "AUTO_RENEW_DISABLED"],
  ["DID_FAIL_TO_RENEW", "GRACE_PERIOD"],
  ["EXPIRED", "VOLUNTARY"],
];

async function buildFixtures() {
  process.stderr.write(`building ${COUNT} notifications (${3 * COUNT} ES256 signatures) on one test chain...\n`);
  const chain = await createAppleTestChain();
  const started = performance.now();
  const fixtures: Fixture[] = [];
  const signedDate = Date.now();
  for (let i = 0; i < COUNT; i++) {
    const [notificationType, subtype] = TYPES[i % TYPES.length]!;
    const originalTransactionId = String(2_100_000_000_000_000 + i);
    const transactionId = String(2_200_000_000_000_000 + i);
    const signed = signAppleNotification(chain, {
      notificationType,
      ...(subtype === undefined ? {} : { subtype }),
      notificationUUID: randomUUID(),
      environment: "Production",
      signedDate: signedDate - i * 1000,
      transaction: {
        originalTransactionId,
        transactionId,
        webOrderLineItemId: String(2_300_000_000_000_000 + i),
        appAccountToken: randomUUID(),
      },
      renewal: { originalTransactionId, renewalPrice: 9990 + (i % 100) * 10 },
    });
    const data = signed.payload.data as { signedTransactionInfo: string; signedRenewalInfo: string };
    fixtures.push({
      signedPayload: signed.signedPayload,
      transactionId,
      raw: [rawJws(signed.signedPayload), rawJws(data.signedTransactionInfo), rawJws(data.signedRenewalInfo)],
    });
    if ((i + 1) % 100 === 0 || i + 1 === COUNT) {
      process.stderr.write(`\r  signed ${i + 1}/${COUNT} notifications (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
  }
  process.stderr.write("\n");
  return { chain, fixtures };
}

/** One side of the benchmark: verifies notification `i` fully, and says which transaction it decoded. */
type Side = (fixture: Fixture) => Promise<string | undefined> | boolean;

async function round(side: Side, fixtures: readonly Fixture[], check: (fixture: Fixture, result: unknown) => void): Promise<number> {
  const started = performance.now();
  for (const fixture of fixtures) {
    const result = side(fixture);
    check(fixture, result instanceof Promise ? await result : result);
  }
  const seconds = (performance.now() - started) / 1000;
  return fixtures.length / seconds;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const rate = (value: number) => Math.round(value).toLocaleString("en-US").padStart(10);
const ratio = (value: number) => `${value.toFixed(1)}x`.padStart(9);
const percent = (value: number) => `${(100 * value).toFixed(0)}%`.padStart(9);

async function main() {
  const { chain, fixtures } = await buildFixtures();

  const subgateVerifier = new AppleJwsVerifier({ trustedRoots: [chain.rootDer] });
  const appleVerifier = new SignedDataVerifier(
    [Buffer.from(chain.rootDer)],
    false,
    Environment.PRODUCTION,
    TEST_BUNDLE_ID,
    TEST_APP_APPLE_ID,
  );
  const leafKey = new X509Certificate(chain.leaf.der).publicKey;
  const rawKey = { key: leafKey, dsaEncoding: "ieee-p1363" as const };

  const subgate: Side = async (fixture) => {
    const { decoded } = await verifyAppleV2(fixture.signedPayload, CONFIG, {
      verifier: subgateVerifier,
      onlineChecks: false,
      allowLocalEnvironments: false,
    });
    return decoded.transaction?.transactionId;
  };
  const apple: Side = async (fixture) => {
    const payload = await appleVerifier.verifyAndDecodeNotification(fixture.signedPayload);
    const transaction = await appleVerifier.verifyAndDecodeTransaction(payload.data?.signedTransactionInfo ?? "");
    await appleVerifier.verifyAndDecodeRenewalInfo(payload.data?.signedRenewalInfo ?? "");
    return transaction.transactionId;
  };
  const raw: Side = (fixture) =>
    cryptoVerify("sha256", fixture.raw[0].signingInput, rawKey, fixture.raw[0].signature) &&
    cryptoVerify("sha256", fixture.raw[1].signingInput, rawKey, fixture.raw[1].signature) &&
    cryptoVerify("sha256", fixture.raw[2].signingInput, rawKey, fixture.raw[2].signature);

  const decodedItsTransaction = (name: string) => (fixture: Fixture, result: unknown) => {
    if (result !== fixture.transactionId)
      throw new Error(`${name} decoded transaction ${String(result)}, expected ${fixture.transactionId}`);
  };
  const checks = {
    subgate: decodedItsTransaction("subgate"),
    apple: decodedItsTransaction("Apple's library"),
    raw: (_fixture: Fixture, result: unknown) => {
      if (result !== true) throw new Error("a raw crypto.verify call returned false");
    },
  };
  const gc = (globalThis as { gc?: () => void }).gc;

  process.stderr.write(`warming up (${WARMUP_ROUNDS} rounds each)...\n`);
  for (let i = 0; i < WARMUP_ROUNDS; i++) {
    await round(subgate, fixtures, checks.subgate);
    await round(apple, fixtures, checks.apple);
    await round(raw, fixtures, checks.raw);
  }

  const rows: { subgate: number; apple: number; raw: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    gc?.();
    const s = await round(subgate, fixtures, checks.subgate);
    gc?.();
    const a = await round(apple, fixtures, checks.apple);
    gc?.();
    const b = await round(raw, fixtures, checks.raw);
    rows.push({ subgate: s, apple: a, raw: b });
    process.stderr.write(`  round ${r + 1}/${ROUNDS} done\n`);
  }

  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log();
  console.log(`Apple App Store Server Notifications V2, full offline verification (3 ES256 JWS per notification)`);
  console.log(
    `${COUNT} distinct notifications, ${ROUNDS} interleaved rounds after ${WARMUP_ROUNDS} warm-up rounds; one thread, sequential`,
  );
  console.log(`Node ${process.version}, ${cpu}${gc ? ", GC between rounds" : ""}`);
  console.log(`subgate: verifyAppleV2; apple: @apple/app-store-server-library verifyAndDecode{Notification,Transaction,RenewalInfo}`);
  console.log(`raw: 3 x crypto.verify(sha256, ES256) per notification, KeyObject prepared once, bytes pre-decoded`);
  console.log();
  console.log("round  subgate n/s   apple n/s     raw n/s  subgate/apple  subgate/raw");
  rows.forEach((row, index) => {
    console.log(
      `${String(index + 1).padStart(5)}  ${rate(row.subgate)}  ${rate(row.apple)}  ${rate(row.raw)}      ${ratio(row.subgate / row.apple)}    ${percent(row.subgate / row.raw)}`,
    );
  });
  const medianOf = (pick: (row: (typeof rows)[number]) => number) => median(rows.map(pick));
  const ratioMedian = medianOf((row) => row.subgate / row.apple);
  const rawMedian = medianOf((row) => row.subgate / row.raw);
  console.log(
    `  med  ${rate(medianOf((row) => row.subgate))}  ${rate(medianOf((row) => row.apple))}  ${rate(medianOf((row) => row.raw))}      ${ratio(ratioMedian)}    ${percent(rawMedian)}`,
  );
  console.log();
  console.log(
    `subgate/apple median ratio: ${ratioMedian.toFixed(1)}x (target ${TARGET_RATIO}x${ratioMedian >= TARGET_RATIO ? ", met" : ", MISSED"})  subgate/raw crypto.verify: ${(100 * rawMedian).toFixed(0)}%`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
