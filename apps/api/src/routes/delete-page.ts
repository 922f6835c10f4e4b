import { Router } from 'express';
import { deleteImageByToken, type Services } from '@renditions/pipeline';

/** No script, no style: the pages pass the API's strict CSP as they are. */
const CONFIRM_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Delete image</title></head>
<body><h1>Delete this image?</h1><p>It will be gone for everyone, at once and for good.</p>
<form method="post"><button type="submit">Delete</button></form></body></html>
`;
const DELETED_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Image deleted</title></head>
<body><h1>The image has been deleted.</h1></body></html>
`;

/**
 * The deletion link an uploader keeps (ShareX's DeletionURL, Imgur's imgur.com/delete/<deletehash>): opened in a
 * browser it asks first, and only the form's POST deletes, so a link preview or prefetch never deletes anything.
 */
export function deletePageRoutes(services: Services): Router {
  const router = Router();

  router.get('/delete/:deletehash', (_req, res) => {
    res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' }).type('html').send(CONFIRM_PAGE);
  });

  router.post('/delete/:deletehash', async (req, res) => {
    await deleteImageByToken(services, req.params.deletehash);
    res.set('Cache-Control', 'no-store').type('html').send(DELETED_PAGE);
  });

  return router;
}
