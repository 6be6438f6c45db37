-- CreateEnum
CREATE TYPE "Store" AS ENUM ('app_store', 'play_store', 'stripe');

-- CreateEnum
CREATE TYPE "Environment" AS ENUM ('sandbox', 'production');

-- CreateEnum
CREATE TYPE "SubscriptionStatus" AS ENUM ('unknown', 'trialing', 'active', 'in_grace_period', 'in_billing_retry', 'paused', 'canceled', 'expired', 'revoked');

-- CreateEnum
CREATE TYPE "NotificationState" AS ENUM ('pending', 'processed', 'untracked', 'unresolved', 'ignored', 'failed');

-- CreateEnum
CREATE TYPE "DeliveryStatus" AS ENUM ('pending', 'succeeded', 'failed', 'canceled');

-- CreateTable
CREATE TABLE "apps" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "apps_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "key_prefix" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "store_configs" (
    "app_id" TEXT NOT NULL,
    "store" "Store" NOT NULL,
    "settings" JSONB NOT NULL DEFAULT '{}',
    "secrets_encrypted" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "store_configs_pkey" PRIMARY KEY ("app_id","store")
);

-- CreateTable
CREATE TABLE "ingress_tokens" (
    "token" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "store" "Store" NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "ingress_tokens_pkey" PRIMARY KEY ("token")
);

-- CreateTable
CREATE TABLE "notifications" (
    "id" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "store" "Store" NOT NULL,
    "store_notification_id" TEXT NOT NULL,
    "notification_type" TEXT,
    "environment" "Environment",
    "subscription_key" TEXT,
    "store_event_at" TIMESTAMPTZ(3),
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "raw_body" BYTEA NOT NULL,
    "headers" JSONB NOT NULL,
    "verification" JSONB NOT NULL,
    "state" "NotificationState" NOT NULL DEFAULT 'pending',
    "normalized" JSONB,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "subscriptions" (
    "id" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "store" "Store" NOT NULL,
    "store_subscription_id" TEXT NOT NULL,
    "app_user_id" TEXT,
    "environment" "Environment",
    "status" "SubscriptionStatus" NOT NULL DEFAULT 'unknown',
    "product_id" TEXT,
    "expires_at" TIMESTAMPTZ(3),
    "auto_renew" BOOLEAN,
    "period_type" TEXT,
    "purchased_at" TIMESTAMPTZ(3),
    "last_event_type" TEXT,
    "last_event_at" TIMESTAMPTZ(3),
    "state_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "events" (
    "id" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "notification_id" TEXT NOT NULL,
    "subscription_id" TEXT,
    "type" TEXT NOT NULL,
    "store" "Store" NOT NULL,
    "environment" "Environment" NOT NULL,
    "sequence" BIGINT NOT NULL,
    "ordinal" INTEGER NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_statuses" (
    "app_id" TEXT NOT NULL,
    "store" "Store" NOT NULL,
    "environment" "Environment" NOT NULL,
    "last_received_at" TIMESTAMPTZ(3),
    "last_test_received_at" TIMESTAMPTZ(3),

    CONSTRAINT "notification_statuses_pkey" PRIMARY KEY ("app_id","store","environment")
);

-- CreateTable
CREATE TABLE "ingress_statuses" (
    "app_id" TEXT NOT NULL,
    "store" "Store" NOT NULL,
    "last_rejected_at" TIMESTAMPTZ(3),
    "last_rejection_reason" TEXT,
    "rejection_count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "ingress_statuses_pkey" PRIMARY KEY ("app_id","store")
);

-- CreateTable
CREATE TABLE "webhook_endpoints" (
    "id" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "secret_encrypted" TEXT NOT NULL,
    "event_types" TEXT[],
    "environments" "Environment"[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(3),

    CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deliveries" (
    "id" TEXT NOT NULL,
    "app_id" TEXT NOT NULL,
    "event_id" TEXT NOT NULL,
    "endpoint_id" TEXT NOT NULL,
    "status" "DeliveryStatus" NOT NULL DEFAULT 'pending',
    "attempt_count" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3),
    "lease_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "delivery_attempts" (
    "id" TEXT NOT NULL,
    "delivery_id" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "status_code" INTEGER,
    "response_body" TEXT,
    "error" TEXT,

    CONSTRAINT "delivery_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");

-- CreateIndex
CREATE INDEX "api_keys_app_id_idx" ON "api_keys"("app_id");

-- CreateIndex
CREATE INDEX "ingress_tokens_app_id_store_idx" ON "ingress_tokens"("app_id", "store");

-- CreateIndex
CREATE INDEX "notifications_state_received_at_idx" ON "notifications"("state", "received_at");

-- CreateIndex
CREATE INDEX "notifications_app_id_store_subscription_key_state_idx" ON "notifications"("app_id", "store", "subscription_key", "state");

-- CreateIndex
CREATE UNIQUE INDEX "notifications_app_id_store_store_notification_id_key" ON "notifications"("app_id", "store", "store_notification_id");

-- CreateIndex
CREATE INDEX "subscriptions_app_id_app_user_id_idx" ON "subscriptions"("app_id", "app_user_id");

-- CreateIndex
CREATE UNIQUE INDEX "subscriptions_app_id_store_store_subscription_id_key" ON "subscriptions"("app_id", "store", "store_subscription_id");

-- CreateIndex
CREATE INDEX "events_app_id_created_at_idx" ON "events"("app_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "events_notification_id_ordinal_key" ON "events"("notification_id", "ordinal");

-- CreateIndex
CREATE UNIQUE INDEX "events_subscription_id_sequence_key" ON "events"("subscription_id", "sequence");

-- CreateIndex
CREATE INDEX "webhook_endpoints_app_id_idx" ON "webhook_endpoints"("app_id");

-- CreateIndex
CREATE INDEX "deliveries_status_next_attempt_at_idx" ON "deliveries"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "deliveries_endpoint_id_created_at_idx" ON "deliveries"("endpoint_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "deliveries_event_id_endpoint_id_key" ON "deliveries"("event_id", "endpoint_id");

-- CreateIndex
CREATE UNIQUE INDEX "delivery_attempts_delivery_id_number_key" ON "delivery_attempts"("delivery_id", "number");

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "store_configs" ADD CONSTRAINT "store_configs_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ingress_tokens" ADD CONSTRAINT "ingress_tokens_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "events" ADD CONSTRAINT "events_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "events" ADD CONSTRAINT "events_notification_id_fkey" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "events" ADD CONSTRAINT "events_subscription_id_fkey" FOREIGN KEY ("subscription_id") REFERENCES "subscriptions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notification_statuses" ADD CONSTRAINT "notification_statuses_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ingress_statuses" ADD CONSTRAINT "ingress_statuses_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_app_id_fkey" FOREIGN KEY ("app_id") REFERENCES "apps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "delivery_attempts" ADD CONSTRAINT "delivery_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;
