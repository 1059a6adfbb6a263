// What went wrong, said where it happened: the inline error box under the pad, with a Retry that
// re-sends the failed request (and the wait the server asked for), and the boot error above everything.
// A rate limit is said in the page's own words with one countdown, never the server's sentence beside it.

import { t } from "./i18n.js";

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
    this.timer = 0;
    this.retryButton.addEventListener("click", () => {
      const retry = this.retry;
      this.hide();
      retry?.();
    });
  }

  /**
   * @param {Error} error  an ApiError (api.js): its message, whether it may be retried and after how long
   * @param {{retry?: Function|null, kind?: string|null}} options  what Retry does; a kind to hide it by
   */
  show(error, { retry = null, kind = null } = {}) {
    clearInterval(this.timer);
    this.kind = kind;
    this.message.textContent = error.status === 429 ? t("errors.too_fast") : error.message || t("errors.unknown");
    const canRetry = Boolean(retry) && error.retryable !== false;
    this.retry = canRetry ? retry : null;
    this.retryButton.hidden = !canRetry;
    this.wait.textContent = "";
    this.wait.hidden = true;
    if (canRetry && Number.isFinite(error.retryAfter) && error.retryAfter > 0) {
      let left = error.retryAfter;
      const tick = () => {
        if (left > 0) {
          this.wait.textContent = t("errors.retry_in", { seconds: left });
          left -= 1;
        } else {
          this.wait.textContent = t("errors.retry_now");
          clearInterval(this.timer);
        }
      };
      this.wait.hidden = false;
      tick();
      this.timer = setInterval(tick, 1000);
    } else if (canRetry) {
      this.wait.hidden = false;
      this.wait.textContent = t("errors.kept");
    }
    this.box.hidden = false;
  }

  /** Hides the error; with a `kind`, only an error of that kind. */
  hide(kind = null) {
    if (kind && this.kind !== kind) return;
    clearInterval(this.timer);
    this.box.hidden = true;
    this.retry = null;
    this.kind = null;
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
