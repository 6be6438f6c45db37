-- AlterTable
ALTER TABLE "events" ADD COLUMN     "once_key" TEXT;

-- AlterTable
ALTER TABLE "subscriptions" ADD COLUMN     "store_user_id" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "events_subscription_id_once_key_key" ON "events"("subscription_id", "once_key");
