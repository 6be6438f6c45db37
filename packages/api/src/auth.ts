import type { NextFunction, Request, Response } from "express";
import { AppError, constantTimeEqual, hashApiKey } from "@subgate/core";
import type { Db } from "@subgate/db";

export type Principal = { kind: "admin" } | { kind: "app"; appId: string };

function bearer(req: Request): string | null {
  const header = req.headers.authorization;
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1] ?? null;
}

/**
 * Resolves `Authorization: Bearer` to the admin or to one app. Keys are compared by SHA-256 hash
 * lookup; the admin token in constant time.
 */
export function authenticate(db: Db, adminToken: string | null) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const token = bearer(req);
    if (!token) throw new AppError("unauthenticated", "missing bearer token");
    if (adminToken && constantTimeEqual(token, adminToken)) {
      res.locals.principal = { kind: "admin" } satisfies Principal;
      return next();
    }
    const key = await db.apiKey.findUnique({ where: { keyHash: hashApiKey(token) }, select: { appId: true, revokedAt: true } });
    if (!key || key.revokedAt) throw new AppError("unauthenticated", "invalid API key");
    res.locals.principal = { kind: "app", appId: key.appId } satisfies Principal;
    next();
  };
}

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new AppError("unauthenticated", "not authenticated");
  return principal;
}

export function requireAdmin(res: Response, adminConfigured: boolean): void {
  if (!adminConfigured) throw new AppError("forbidden", "admin calls are disabled until SUBGATE_ADMIN_TOKEN is set");
  if (principalOf(res).kind !== "admin") throw new AppError("forbidden", "this call needs the admin token");
}

/**
 * An app key sees its own app only. Another app's id answers 404, exactly like an id that does
 * not exist, so a key cannot even learn which app ids exist.
 */
export async function requireAppAccess(db: Db, res: Response, appId: string): Promise<void> {
  const principal = principalOf(res);
  if (principal.kind === "app" && principal.appId !== appId) throw new AppError("not_found", "app not found");
  const exists = await db.app.findUnique({ where: { id: appId }, select: { id: true } });
  if (!exists) throw new AppError("not_found", "app not found");
}
