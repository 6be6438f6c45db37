-- Times a store sent before subgate checked them, outside the windows it now enforces
-- (packages/schema/src/time-windows.ts): event times from 2000-01-01 to one hour after receipt,
-- other times from 1970-01-01 to 2255-06-05. A far-future state time pinned its subscription
-- (every later real state counted as stale) and years past 9999 could not be read back, so such
-- values are cleared; the next notification of the subscription sets them again.
UPDATE "subscriptions" SET "state_at" = NULL, "state_rank" = 0
  WHERE "state_at" < '2000-01-01' OR "state_at" > now() + interval '1 hour';
UPDATE "subscriptions" SET "last_event_at" = NULL, "last_event_type" = NULL
  WHERE "last_event_at" < '2000-01-01' OR "last_event_at" > now() + interval '1 hour';
UPDATE "subscriptions" SET "expires_at" = NULL
  WHERE "expires_at" < '1970-01-01' OR "expires_at" > '2255-06-05';
UPDATE "subscriptions" SET "purchased_at" = NULL
  WHERE "purchased_at" < '1970-01-01' OR "purchased_at" > '2255-06-05';
UPDATE "notifications" SET "store_event_at" = NULL
  WHERE "store_event_at" < '2000-01-01' OR "store_event_at" > "received_at" + interval '1 hour';
