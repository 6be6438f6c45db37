import { Router } from "express";
import { z } from "zod";
import { StoreSchema } from "@subgate/schema";
import type { NotificationState } from "@subgate/db";
import { requireAppAccess } from "./auth.ts";
import type { ApiOptions } from "./context.ts";
import { notificationView } from "./serialize.ts";
import { parseInput } from "./validate.ts";

const STATES = ["pending", "processed", "untracked", "ignored", "unresolved", "failed"] as const satisfies readonly NotificationState[];

/** Newest first: the cursor is the position of the last row of a page, (received_at, id). */
const cursorSchema = z
  .string()
  .min(1)
  .transform((cursor, ctx) => {
    const [time, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
    const receivedAt = new Date(time ?? "");
    if (!id || !/^ntf_[0-9a-z]+$/.test(id) || Number.isNaN(receivedAt.getTime())) {
      ctx.addIssue({ code: "custom", message: "is not a cursor this API returned (use next_cursor as given)" });
      return z.NEVER;
    }
    return { receivedAt, id };
  });

function cursorOf(row: { receivedAt: Date; id: string }): string {
  return Buffer.from(`${row.receivedAt.toISOString()}|${row.id}`, "utf8").toString("base64url");
}

const listSchema = z.object({
  state: z.enum(STATES).optional(),
  store: StoreSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: cursorSchema.optional(),
});

/**
 * `GET /v1/apps/{id}/notifications`: the app's inbox, newest first, so an operator can find what
 * failed (`?state=failed`) and why (`last_error`), or what waits for another attempt.
 */
export function notificationsRouter(options: ApiOptions): Router {
  const { db } = options;
  const router = Router();

  router.get("/v1/apps/:appId/notifications", async (req, res) => {
    const appId = req.params.appId;
    await requireAppAccess(db, res, appId);
    const query = parseInput(listSchema, req.query);
    const after = query.cursor;
    const rows = await db.notification.findMany({
      where: {
        appId,
        ...(query.state ? { state: query.state } : {}),
        ...(query.store ? { store: query.store } : {}),
        ...(after ? { OR: [{ receivedAt: { lt: after.receivedAt } }, { receivedAt: after.receivedAt, id: { lt: after.id } }] } : {}),
      },
      orderBy: [{ receivedAt: "desc" }, { id: "desc" }],
      take: query.limit + 1,
      // The body and headers stay in the inbox: a listing is for finding rows, not reading them.
      omit: { rawBody: true, headers: true, verification: true, normalized: true },
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    res.json({ data: page.map(notificationView), next_cursor: rows.length > query.limit && last ? cursorOf(last) : null });
  });

  return router;
}
