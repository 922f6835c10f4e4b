import { copyText } from './copy.js';
import { placeholderImage, placeholderUrl } from './placeholder.js';
import { pictureSnippet } from './snippet.js';

const SIZE_NAMES = {
  s: 'Small square',
  b: 'Big square',
  t: 'Small thumbnail',
  m: 'Medium',
  l: 'Large',
  h: 'Huge',
};
// Statuses only move forward; events and polls can arrive out of order, and a late one must not undo a newer one.
const RANK = { pending: 0, processing: 1, ready: 2, failed: 2 };
const STATUS_TEXT = {
  processing: 'Processing',
  ready: 'Ready',
  failed: 'Some renditions failed',
  rejected: 'Rejected by moderation',
  deleted: 'Deleted',
};

const result = document.getElementById('result');
const preview = document.getElementById('original-preview');
const previewPlaceholder = document.getElementById('preview-placeholder');
const previewLink = document.getElementById('original-preview-link');
const heading = document.getElementById('result-heading');
const statusBadge = document.getElementById('status');
const details = document.getElementById('details');
const originalLink = document.getElementById('original-link');
const openOriginal = document.getElementById('open-original');
const snippet = document.getElementById('snippet');
const grid = document.getElementById('renditions');
const template = document.getElementById('rendition-template');

// Whether the current image's ThumbHash is on show: the hash stage runs after the upload's answer.
let placeholderShown = false;
preview.addEventListener('load', () => {
  previewPlaceholder.hidden = true;
});

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function showStatus(status) {
  statusBadge.textContent = STATUS_TEXT[status] ?? status;
  statusBadge.dataset.status = status;
}

/** A fresh result for a new upload: the original's link at once, every rendition as a placeholder. */
export function showUpload(image) {
  result.hidden = false;
  heading.textContent = image.title || 'Your image';
  placeholderShown = false;
  previewPlaceholder.hidden = true;
  // Known before a byte arrives: the preview keeps its place while the original loads.
  preview.width = image.width;
  preview.height = image.height;
  // The placeholder's own pixels only approximate the shape: it takes the box the original will fill.
  previewPlaceholder.style.aspectRatio = `${image.width} / ${image.height}`;
  preview.src = image.url;
  previewLink.href = image.url;
  originalLink.value = image.url;
  openOriginal.href = image.url;
  details.textContent = `${image.width} × ${image.height} · ${image.mime.replace('image/', '').toUpperCase()} · ${formatBytes(image.bytes)}`;
  snippet.value = pictureSnippet(image);
  grid.replaceChildren(...image.renditions.map(createTile));
  showImage(image);
}

/** Applies a newer state of the image: its status and every rendition that moved forward. */
export function showImage(image) {
  showStatus(image.status);
  if (image.thumbhash && !placeholderShown) showPlaceholder(placeholderUrl(image.thumbhash));
  for (const rendition of image.renditions) {
    const tile = grid.querySelector(`[data-key="${rendition.size}.${rendition.format}"]`);
    if (tile && RANK[rendition.status] > RANK[tile.dataset.status]) updateTile(tile, rendition);
  }
}

/** The blurred placeholder wherever real pixels have not arrived yet: the preview and every rendition still to load. */
function showPlaceholder(url) {
  placeholderShown = true;
  previewPlaceholder.src = url;
  previewPlaceholder.hidden = preview.complete && preview.naturalWidth > 0;
  for (const box of grid.querySelectorAll('.placeholder')) box.replaceChildren(placeholderImage(url));
}

export function readyCount() {
  return grid.querySelectorAll('[data-status="ready"]').length;
}

function createTile(rendition) {
  const tile = template.content.firstElementChild.cloneNode(true);
  const key = `${rendition.size}.${rendition.format}`;
  tile.dataset.key = key;
  tile.querySelector('.tile-name').textContent = SIZE_NAMES[rendition.size] ?? rendition.size;
  tile.querySelector('.tile-size').textContent = `${rendition.format.toUpperCase()} · ${rendition.width} × ${rendition.height}`;
  // The box keeps the rendition's shape before it exists, so the grid does not jump when images arrive.
  tile.querySelector('.placeholder').style.aspectRatio = `${rendition.width} / ${rendition.height}`;
  const copy = tile.querySelector('.copy');
  copy.setAttribute('aria-label', `Copy the link of the ${key} rendition`);
  copy.addEventListener('click', () => copyText(rendition.url, copy));
  updateTile(tile, rendition);
  return tile;
}

function updateTile(tile, rendition) {
  tile.dataset.status = rendition.status;
  tile.querySelector('.state').textContent = rendition.status;
  if (rendition.status !== 'ready') return;
  const img = document.createElement('img');
  img.alt = `${SIZE_NAMES[rendition.size] ?? rendition.size} rendition, ${rendition.format.toUpperCase()}, ${rendition.width} by ${rendition.height} pixels`;
  img.width = rendition.width;
  img.height = rendition.height;
  img.src = rendition.url;
  const link = document.createElement('a');
  link.href = rendition.url;
  link.target = '_blank';
  link.rel = 'noopener';
  link.append(img);
  // The placeholder stays until the rendition can be drawn, rather than an empty box while it downloads.
  const show = () => tile.querySelector('.thumb').replaceChildren(link);
  img.addEventListener('load', show, { once: true });
  img.addEventListener('error', show, { once: true });
}
