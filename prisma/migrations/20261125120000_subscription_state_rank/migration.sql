-- AlterTable
ALTER TABLE "subscriptions" ADD COLUMN     "state_rank" INTEGER NOT NULL DEFAULT 0;
