// What went wrong, said where it happened: the inline error box under the pad, with a Retry that
// re-sends the failed request (and the wait the server asked for), and the boot error above everything.
// A rate limit is said in the page's own words with one countdown, never the server's sentence beside it.

import { onLanguageChange, t } from "./i18n.js";

/** Inline error under the pad, with a Retry that re-sends the failed request. */
export class ErrorBox {
  /** @param {HTMLElement} box  the error box; its message, wait and Retry are found inside it */
  constructor(box) {
    this.box = box;
    this.message = box.querySelector('[data-testid="error-message"]');
    this.wait = box.querySelector('[data-testid="error-wait"]');
    this.retryButton = box.querySelector('[data-testid="retry"]');
    this.retry = null;
    this.kind = null;
    this.error = null; // the error on show
    this.left = null; // seconds left before Retry may help (the server's Retry-After), or null
    this.timer = 0;
    this.retryButton.addEventListener("click", () => {
      const retry = this.retry;
      this.hide();
      retry?.();
    });
    onLanguageChange(() => this.error && this.#say());
  }

  /**
   * @param {Error} error  an ApiError (api.js): its message, whether it may be retried and after how long
   * @param {{retry?: Function|null, kind?: string|null}} options  what Retry does; a kind to hide it by
   */
  show(error, { retry = null, kind = null } = {}) {
    clearInterval(this.timer);
    this.kind = kind;
    this.error = error;
    const canRetry = Boolean(retry) && error.retryable !== false;
    this.retry = canRetry ? retry : null;
    this.retryButton.hidden = !canRetry;
    this.wait.hidden = !canRetry;
    this.left = canRetry && Number.isFinite(error.retryAfter) && error.retryAfter > 0 ? error.retryAfter : null;
    this.#say();
    if (this.left !== null) {
      this.timer = setInterval(() => {
        this.left -= 1;
        this.#say();
        if (this.left <= 0) clearInterval(this.timer);
      }, 1000);
    }
    this.box.hidden = false;
  }

  /** What went wrong, and when Retry may help, in the page's language (again after it switches). */
  #say() {
    const error = this.error;
    this.message.textContent = error.status === 429 ? t("errors.too_fast") : error.message || t("errors.unknown");
    if (!this.retry) this.wait.textContent = "";
    else if (this.left === null) this.wait.textContent = t("errors.kept");
    else this.wait.textContent = this.left > 0 ? t("errors.retry_in", { seconds: this.left }) : t("errors.retry_now");
  }

  /** Hides the error; with a `kind`, only an error of that kind. */
  hide(kind = null) {
    if (kind && this.kind !== kind) return;
    clearInterval(this.timer);
    this.box.hidden = true;
    this.retry = null;
    this.kind = null;
    this.error = null;
  }
}

/**
 * The page could not start: says why in `node` (`error`'s message), with a Reload button; with no error
 * (the page's words could not be loaded), index.html's own sentence stays.
 */
export function showBootError(node, error) {
  if (error) {
    node.replaceChildren(document.createTextNode(`${t("page.boot_error", { reason: error.message })} `));
    const again = document.createElement("button");
    again.type = "button";
    again.className = "btn small";
    again.textContent = t("page.reload");
    again.addEventListener("click", () => location.reload());
    node.append(again);
  }
  node.hidden = false;
}
