-- CreateEnum
CREATE TYPE "DeliveryAttemptOutcome" AS ENUM ('succeeded', 'failed', 'interrupted');

-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "leased_at" TIMESTAMPTZ(3);

-- AlterTable: nullable, so a process of the earlier version still running during a rolling restart
-- can record its attempts; those it recorded before are given their outcome by their status code.
ALTER TABLE "delivery_attempts" ADD COLUMN     "outcome" "DeliveryAttemptOutcome",
ALTER COLUMN "duration_ms" DROP NOT NULL;
UPDATE "delivery_attempts" SET "outcome" = CASE WHEN "status_code" BETWEEN 200 AND 299 THEN 'succeeded'::"DeliveryAttemptOutcome" ELSE 'failed'::"DeliveryAttemptOutcome" END;
