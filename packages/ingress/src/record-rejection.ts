import type { Db } from "@subgate/db";
import type { Store } from "@subgate/schema";

/**
 * Makes a refusal visible in the app's notification status (docs/API.md: `last_rejected_at`,
 * `last_rejection_reason`), so a misconfigured store console shows up on the dashboard.
 */
export async function recordRejection(db: Db, appId: string, store: Store, reason: string, at: Date): Promise<void> {
  await db.$executeRaw`
    INSERT INTO ingress_statuses (app_id, store, last_rejected_at, last_rejection_reason, rejection_count)
    VALUES (${appId}, ${store}::"Store", ${at}, ${reason}, 1)
    ON CONFLICT (app_id, store) DO UPDATE SET
      last_rejected_at = GREATEST(ingress_statuses.last_rejected_at, EXCLUDED.last_rejected_at),
      last_rejection_reason = CASE
        WHEN ingress_statuses.last_rejected_at IS NULL OR EXCLUDED.last_rejected_at >= ingress_statuses.last_rejected_at
        THEN EXCLUDED.last_rejection_reason ELSE ingress_statuses.last_rejection_reason END,
      rejection_count = ingress_statuses.rejection_count + 1`;
}
