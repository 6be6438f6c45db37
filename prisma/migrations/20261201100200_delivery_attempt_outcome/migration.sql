-- CreateEnum
CREATE TYPE "DeliveryAttemptOutcome" AS ENUM ('succeeded', 'failed', 'interrupted');

-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "leased_at" TIMESTAMPTZ(3);

-- AlterTable: attempts recorded before outcomes existed ended with an answer or an error.
ALTER TABLE "delivery_attempts" ADD COLUMN     "outcome" "DeliveryAttemptOutcome";
UPDATE "delivery_attempts" SET "outcome" = CASE WHEN "status_code" BETWEEN 200 AND 299 THEN 'succeeded'::"DeliveryAttemptOutcome" ELSE 'failed'::"DeliveryAttemptOutcome" END;
ALTER TABLE "delivery_attempts" ALTER COLUMN "outcome" SET NOT NULL,
ALTER COLUMN "duration_ms" DROP NOT NULL;
