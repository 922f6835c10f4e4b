const FEEDBACK_MS = 1500;

/**
 * Copies a link and says so on the button. The Clipboard API exists only on secure origins (https, localhost);
 * elsewhere the link is offered in a prompt, already selected, so Ctrl+C finishes the job.
 */
export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    window.prompt('Copy this link:', text);
    return;
  }
  const label = button.dataset.label ?? button.textContent;
  button.dataset.label = label;
  button.textContent = 'Copied!';
  button.classList.add('copied');
  setTimeout(() => {
    button.textContent = label;
    button.classList.remove('copied');
  }, FEEDBACK_MS);
}
