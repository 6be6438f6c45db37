-- CreateTable
CREATE TABLE "subscription_aliases" (
    "app_id" TEXT NOT NULL,
    "store" "Store" NOT NULL,
    "key" TEXT NOT NULL,
    "subscription_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "subscription_aliases_pkey" PRIMARY KEY ("app_id","store","key")
);

-- CreateIndex
CREATE INDEX "subscription_aliases_subscription_id_idx" ON "subscription_aliases"("subscription_id");

-- AddForeignKey
ALTER TABLE "subscription_aliases" ADD CONSTRAINT "subscription_aliases_subscription_id_fkey" FOREIGN KEY ("subscription_id") REFERENCES "subscriptions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
