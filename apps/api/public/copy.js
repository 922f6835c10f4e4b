const FEEDBACK_MS = 1500;

/**
 * Copies text and says so on the button. The Clipboard API exists only on secure origins (https, localhost);
 * elsewhere `offer` puts the text in front of the person, selected, so Ctrl+C finishes the job: by default a
 * prompt, which suits a one-line link.
 */
export async function copyText(text, button, offer = () => window.prompt('Copy this link:', text)) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    offer();
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
