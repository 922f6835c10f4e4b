import { copyText } from './copy.js';
import { followImage } from './follow.js';
import { readyCount, showImage, showStatus, showUpload } from './result.js';
import { refusal, sendUpload } from './send.js';

const picker = document.getElementById('picker');
const dropZone = document.getElementById('drop-zone');
const fileInput = document.getElementById('file-input');
const titleInput = document.getElementById('title-input');
const progressRow = document.getElementById('progress-row');
const progress = document.getElementById('progress');
const progressLabel = document.getElementById('progress-label');
const message = document.getElementById('message');
const liveStatus = document.getElementById('live-status');
const originalLink = document.getElementById('original-link');
const copyOriginal = document.getElementById('copy-original');
const snippet = document.getElementById('snippet');
const copySnippet = document.getElementById('copy-snippet');

const END_MESSAGES = {
  ready: 'All renditions are ready.',
  failed: 'Processing finished, but some renditions failed; their links serve the original.',
  rejected: 'This image was rejected by moderation and is no longer served.',
  deleted: 'This image was deleted.',
};

let busy = false;
let stopFollowing = () => undefined;

function say(text, kind = 'info', detail = '') {
  const headline = document.createElement('strong');
  headline.textContent = text;
  message.replaceChildren(headline);
  if (detail) message.append(' ', Object.assign(document.createElement('span'), { className: 'detail', textContent: detail }));
  message.dataset.kind = kind;
  // An error must interrupt a screen reader; progress news can wait its turn.
  message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
}

function setProgress(fraction) {
  const percent = Math.round(fraction * 100);
  progress.value = percent;
  progressLabel.textContent = percent < 100 ? `${percent}%` : 'Checking…';
}

async function upload(file) {
  if (busy) return;
  busy = true;
  picker.classList.add('busy');
  progressRow.hidden = false;
  setProgress(0);
  say(`Uploading ${file.name || 'the pasted image'}…`);
  try {
    const { status, body } = await sendUpload(file, { title: titleInput.value.trim(), onProgress: setProgress });
    if (status !== 201) {
      const { headline, detail } = refusal(status, body);
      say(headline, 'error', detail);
      return;
    }
    // A refused upload leaves the previous result in place; only a new image replaces it.
    stopFollowing();
    picker.classList.add('compact');
    say('Uploaded. The link works now; renditions appear as they are made.', 'success');
    showUpload(body);
    reportProgress(body);
    // Identical bytes uploaded before settle at once: nothing left to follow.
    if (body.status === 'processing') follow(body.id);
    else showEnd(body.status);
  } catch (error) {
    say(error.message, 'error');
  } finally {
    busy = false;
    picker.classList.remove('busy');
    progressRow.hidden = true;
    fileInput.value = '';
  }
}

function reportProgress(image) {
  liveStatus.textContent = `${readyCount()} of ${image.renditions.length} renditions ready`;
}

function follow(id) {
  stopFollowing = followImage(id, {
    onImage: (image) => {
      showImage(image);
      reportProgress(image);
    },
    onMode: (mode) => {
      liveStatus.dataset.mode = mode;
    },
    onEnd: showEnd,
  });
}

function showEnd(status) {
  showStatus(status);
  liveStatus.textContent = END_MESSAGES[status] ?? '';
}

function firstFile(list) {
  return [...(list ?? [])].find((file) => file.type.startsWith('image/')) ?? list?.[0];
}

fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  if (file) void upload(file);
});

// The whole page takes a drop, like Imgur; without this a dropped file would replace the page.
let dragDepth = 0;
document.addEventListener('dragenter', (event) => {
  if (!event.dataTransfer?.types.includes('Files')) return;
  dragDepth += 1;
  dropZone.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) dropZone.classList.remove('dragging');
});
document.addEventListener('dragover', (event) => event.preventDefault());
document.addEventListener('drop', (event) => {
  event.preventDefault();
  dragDepth = 0;
  dropZone.classList.remove('dragging');
  const file = firstFile(event.dataTransfer?.files);
  if (file) void upload(file);
});

document.addEventListener('paste', (event) => {
  const file = firstFile(event.clipboardData?.files);
  if (!file) return;
  event.preventDefault();
  void upload(file);
});

copyOriginal.addEventListener('click', () => copyText(originalLink.value, copyOriginal));
originalLink.addEventListener('focus', () => originalLink.select());
// A prompt would flatten the snippet's lines: without the Clipboard API it is selected where it stands.
copySnippet.addEventListener('click', () => copyText(snippet.value, copySnippet, () => snippet.select()));
snippet.addEventListener('focus', () => snippet.select());
