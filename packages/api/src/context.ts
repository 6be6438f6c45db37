import type { Logger, SecretBox } from "@subgate/core";
import type { Db } from "@subgate/db";
import type { JobProducer } from "@subgate/queue";
import type { AppStoreApis, StoreRegistry } from "@subgate/stores";
import type { SubscriptionLedger } from "@subgate/subscriptions";

export interface ApiOptions {
  db: Db;
  producer: JobProducer;
  ledger: SubscriptionLedger;
  secretBox: SecretBox;
  /** The stores this build knows: their API blocks, configuration schemas and ingress segments. */
  stores: StoreRegistry;
  logger: Logger;
  /** Ingress URLs are built from it. */
  publicBaseUrl: string;
  /** Null: admin calls are refused (docs/API.md). */
  adminToken: string | null;
  allowPrivateTargets: boolean;
  /** Calls to Apple's App Store Server API on an app's behalf (test notifications, history). */
  appStoreApis: AppStoreApis;
}
