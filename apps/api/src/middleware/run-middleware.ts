import type { Request, RequestHandler, Response } from 'express';

/** Runs an express middleware inside a route handler: resolves when it calls next(), rejects with what it passed. */
export function runMiddleware(handler: RequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => handler(req, res, (error?: unknown) => (error ? reject(error) : resolve())));
}
