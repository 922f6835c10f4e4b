/**
 * Posts one file to the API as multipart/form-data. XMLHttpRequest rather than fetch: fetch reports no upload
 * progress. Resolves with the answer whatever its status; rejects only when the request never got one.
 */
export function sendUpload(file, { title, onProgress }) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    // Fields before the file, so a streaming parser has them by the time the file arrives.
    if (title) body.append('title', title);
    body.append('image', file);
    const request = new XMLHttpRequest();
    request.open('POST', '/api/v1/images');
    request.responseType = 'json';
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => resolve({ status: request.status, body: request.response });
    request.onerror = () => reject(new Error('The upload did not reach the server. Check the connection and try again.'));
    request.send(body);
  });
}

const HEADLINES = {
  400: 'The server could not read this upload.',
  413: 'This file is too large.',
  415: 'This file type is not supported.',
  422: 'This file is not a usable image.',
  429: 'Too many uploads right now.',
  503: 'The service is busy; try again in a moment.',
};

/**
 * What to tell the person when an upload is refused: a plain headline for the status, and the API's own
 * message, which names the exact problem.
 */
export function refusal(status, body) {
  return {
    headline: HEADLINES[status] ?? `The upload failed (HTTP ${status}).`,
    detail: body?.error?.message ?? '',
  };
}
