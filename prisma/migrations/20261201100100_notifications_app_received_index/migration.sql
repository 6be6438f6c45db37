-- CreateIndex
CREATE INDEX CONCURRENTLY "notifications_app_id_received_at_idx" ON "notifications"("app_id", "received_at");
