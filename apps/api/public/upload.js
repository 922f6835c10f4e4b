const form = document.getElementById('upload-form');
const dropZone = document.getElementById('drop-zone');
const fileInput = document.getElementById('file-input');
const titleInput = document.getElementById('title-input');
const progress = document.getElementById('progress');
const message = document.getElementById('message');
const result = document.getElementById('result');
const originalLink = document.getElementById('original-link');
const statusText = document.getElementById('status');
const renditionList = document.getElementById('renditions');

const SETTLED = new Set(['ready', 'failed', 'rejected']);

function say(text, isError = false) {
  message.textContent = text;
  message.classList.toggle('error', isError);
}

function upload(file) {
  const body = new FormData();
  body.append('image', file);
  if (titleInput.value.trim()) body.append('title', titleInput.value.trim());
  const request = new XMLHttpRequest();
  request.open('POST', '/api/v1/images');
  request.responseType = 'json';
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
  };
  request.onload = () => {
    progress.hidden = true;
    if (request.status === 201) {
      say('Uploaded. Renditions appear as they become ready.');
      show(request.response);
      follow(request.response.id);
    } else {
      say(request.response?.error?.message ?? `Upload failed (${request.status})`, true);
    }
  };
  request.onerror = () => {
    progress.hidden = true;
    say('Network error: the upload did not reach the server.', true);
  };
  progress.hidden = false;
  progress.value = 0;
  say(`Uploading ${file.name}…`);
  request.send(body);
}

function show(image) {
  result.hidden = false;
  originalLink.href = image.url;
  originalLink.textContent = image.url;
  statusText.textContent = image.status;
  for (const rendition of image.renditions) {
    const key = `${rendition.size}.${rendition.format}`;
    let item = renditionList.querySelector(`[data-key="${key}"]`);
    if (!item) {
      item = document.createElement('li');
      item.dataset.key = key;
      item.innerHTML = `<div class="thumb"></div><span>${rendition.size} · ${rendition.format} · ${rendition.width}×${rendition.height}</span>
        <span class="state"></span><button type="button" class="copy">Copy link</button>`;
      item.querySelector('button').addEventListener('click', () => copy(rendition.url));
      renditionList.append(item);
    }
    if (item.dataset.status === rendition.status) continue;
    item.dataset.status = rendition.status;
    item.querySelector('.state').textContent = rendition.status;
    if (rendition.status === 'ready') {
      const img = new Image();
      img.alt = `${key} rendition`;
      img.src = rendition.url;
      item.querySelector('.thumb').replaceChildren(img);
    }
  }
}

async function follow(id) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const response = await fetch(`/api/v1/images/${id}`);
    if (!response.ok) return;
    const image = await response.json();
    show(image);
    if (SETTLED.has(image.status)) return;
  }
}

function copy(text) {
  navigator.clipboard?.writeText(text).then(() => say('Link copied.'), () => say(text));
}

document.querySelector('[data-copy-from]').addEventListener('click', () => copy(originalLink.href));
fileInput.addEventListener('change', () => fileInput.files[0] && upload(fileInput.files[0]));
dropZone.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') fileInput.click();
});
for (const type of ['dragenter', 'dragover']) {
  dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    dropZone.classList.add('dragging');
  });
}
for (const type of ['dragleave', 'drop']) {
  dropZone.addEventListener(type, () => dropZone.classList.remove('dragging'));
}
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  const file = event.dataTransfer?.files?.[0];
  if (file) upload(file);
});
document.addEventListener('paste', (event) => {
  const file = [...(event.clipboardData?.files ?? [])][0];
  if (file) upload(file);
});
form.addEventListener('submit', (event) => event.preventDefault());
