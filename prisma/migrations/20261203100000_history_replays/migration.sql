-- CreateEnum
CREATE TYPE "HistoryReplayStatus" AS ENUM ('running', 'done', 'failed');

-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "replay_id" TEXT;

-- CreateTable
CREATE TABLE "history_replays" (
    "id" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "store" "Store" NOT NULL,
    "environment" "Environment" NOT NULL,
    "start_at" TIMESTAMPTZ(3) NOT NULL,
    "end_at" TIMESTAMPTZ(3) NOT NULL,
    "status" "HistoryReplayStatus" NOT NULL DEFAULT 'running',
    "pagination_token" TEXT,
    "pages" INTEGER NOT NULL DEFAULT 0,
    "fetched" INTEGER NOT NULL DEFAULT 0,
    "stored" INTEGER NOT NULL DEFAULT 0,
    "duplicates" INTEGER NOT NULL DEFAULT 0,
    "rejected" INTEGER NOT NULL DEFAULT 0,
    "reached_at" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3),
    "leased_by" TEXT,
    "lease_until" TIMESTAMPTZ(3),
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "history_replays_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "history_replays_status_next_attempt_at_idx" ON "history_replays"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "history_replays_app_id_created_at_idx" ON "history_replays"("app_id", "created_at");

-- AddForeignKey
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_replay_id_fkey" FOREIGN KEY ("replay_id") REFERENCES "history_replays"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "history_replays" ADD CONSTRAINT "history_replays_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;
