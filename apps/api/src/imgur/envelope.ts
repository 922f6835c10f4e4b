import type { Request } from 'express';

/** Imgur API v3's answer: every answer, success or not, carries its HTTP status in the body too. */
export interface ImgurEnvelope<T> {
  data: T;
  success: boolean;
  status: number;
}

export interface ImgurErrorData {
  error: string;
  request: string;
  method: string;
}

/** Requests to the Imgur-compatible API, whose answers (errors included) come in Imgur's envelope. */
export function isImgurRequest(req: Request): boolean {
  return req.path === '/3' || req.path.startsWith('/3/');
}

export function imgurSuccess<T>(data: T): ImgurEnvelope<T> {
  return { data, success: true, status: 200 };
}

/**
 * Imgur answers a deleted image like an unknown one (it has no 410): clients treat 404 as "gone". Every other
 * status is the contract's.
 */
export function imgurStatus(status: number): number {
  return status === 410 ? 404 : status;
}

export function imgurError(req: Request, status: number, message: string): ImgurEnvelope<ImgurErrorData> {
  return { data: { error: message, request: req.path, method: req.method }, success: false, status };
}
