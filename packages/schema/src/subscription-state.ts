import { z } from "zod";
import { PeriodTypeSchema, SubscriptionStatusSchema } from "./enums.ts";
import { TimeMsSchema } from "./time-windows.ts";

/**
 * What one store notification says about the subscription's state at the store's time of the
 * notification. Absent fields are unknown to that notification and leave the stored value alone
 * (Stripe's `invoice.paid` knows the new period end but not whether auto-renew is on).
 */
export const SubscriptionStatePatchSchema = z.object({
  status: SubscriptionStatusSchema.optional(),
  product_id: z.string().nullable().optional(),
  expires_at_ms: TimeMsSchema.nullable().optional(),
  auto_renew: z.boolean().nullable().optional(),
  period_type: PeriodTypeSchema.nullable().optional(),
  purchased_at_ms: TimeMsSchema.nullable().optional(),
  /** The store's own link to the app's user (Apple's `appAccountToken`). */
  store_user_id: z.string().max(512).nullable().optional(),
});
export type SubscriptionStatePatch = z.infer<typeof SubscriptionStatePatchSchema>;
