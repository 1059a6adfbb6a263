// "Inside the CNN": the feature maps of the drawing on the pad (POST /api/activations), asked for a moment
// after the drawing changes (the Draw tab says when), the newest request winning, and shown by
// activations.js; or a line saying why there are none.

import { onLanguageChange, t } from "./i18n.js";

export class FeatureMaps {
  /**
   * @param {{pad: import("./pad.js").DrawingPad, api: object, view: import("./activations.js").ActivationsView,
   *   status: HTMLElement, debounceMs: number}} parts
   */
  constructor({ pad, api, view, status, debounceMs }) {
    this.pad = pad;
    this.api = api;
    this.view = view;
    this.status = status;
    this.debounceMs = debounceMs;
    this.timer = 0;
    this.seq = 0; // a newer request always wins (counter) and older ones are aborted
    this.abort = null;
    this.saying = () => t("activations.idle"); // the status line's words, said again in another language
    onLanguageChange(() => {
      this.status.textContent = this.saying();
      this.view.reword();
    });
  }

  /** Ask for the maps of the drawing on the pad once it has been still for a moment. */
  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#load(), this.debounceMs);
  }

  /** Forget any request on its way: it describes a drawing that is changing, or not shown. */
  cancel() {
    clearTimeout(this.timer);
    this.seq++;
    this.abort?.abort();
  }

  /** The pad is empty: no maps, and the invitation to draw. */
  reset() {
    this.view.clear();
    this.status.hidden = false;
    this.#say(() => t("activations.idle"));
  }

  async #load() {
    if (this.pad.isEmpty) return;
    const seq = ++this.seq;
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    try {
      const response = await this.api.activations(await this.pad.toPNG(), abort.signal);
      if (seq !== this.seq) return;
      this.view.render(response);
      this.status.hidden = true;
    } catch (error) {
      if (error?.name === "AbortError" || seq !== this.seq) return;
      this.status.hidden = false;
      this.#say(() => t("activations.failed", { reason: error.message }));
    }
  }

  #say(words) {
    this.saying = words;
    this.status.textContent = words();
  }
}
