import { thumbHashToDataURL } from '/vendor/thumbhash.js';

/** The resource's base64 ThumbHash as a small blurred PNG (a data: URL), shown while the real pixels load. */
export function placeholderUrl(thumbhash) {
  return thumbHashToDataURL(Uint8Array.from(atob(thumbhash), (char) => char.charCodeAt(0)));
}

/** An image element showing the placeholder; decorative, so screen readers skip it. */
export function placeholderImage(url) {
  const img = document.createElement('img');
  img.className = 'thumbhash';
  img.alt = '';
  img.src = url;
  return img;
}
