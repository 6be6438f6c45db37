-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "unexpected_errors" INTEGER NOT NULL DEFAULT 0;
