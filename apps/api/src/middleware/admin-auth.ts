import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Config } from '@renditions/config';
import { UnauthorizedError } from '@renditions/errors';
import type { OwnerAccess } from '@renditions/pipeline';

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Whether an `Authorization: Basic` header carries the admin credentials; never true when no password is set. */
export function isAdminAuthorization(admin: Config['admin'], header: string | undefined): boolean {
  if (!admin || !header?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 0) return false;
  return safeEqual(decoded.slice(0, separator), admin.user) && safeEqual(decoded.slice(separator + 1), admin.password);
}

export function requireAdmin(admin: Config['admin']): RequestHandler {
  return (req, res, next) => {
    if (isAdminAuthorization(admin, req.get('Authorization'))) return next();
    res.set('WWW-Authenticate', 'Basic realm="admin", charset="UTF-8"');
    next(new UnauthorizedError('Admin credentials are required'));
  };
}

/** Reads what a request offers as the uploader's or an admin's credentials, for the owner-only routes. */
export type OwnerAccessReader = (req: Request) => OwnerAccess;

export function ownerAccessReader(admin: Config['admin']): OwnerAccessReader {
  return (req) => ({
    deleteToken: req.get('X-Delete-Token'),
    isAdmin: isAdminAuthorization(admin, req.get('Authorization')),
  });
}
