-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "notification_subtype" TEXT;
