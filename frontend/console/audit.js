// The audit log (GET /api/admin/audit): every review, newest first: who did what to which drawing, and when,
// with the drawing's image. Older entries page in with the service's cursor.

import { glyphNode } from "../js/glyphs.js";
import { t, tn } from "../js/i18n.js";
import { el, statusWords, when } from "./row.js";

const PAGE = 50;

export class AuditLog {
  constructor({ api, images, alphabet, els }) {
    Object.assign(this, { api, images, alphabet, els });
    this.next = null;
    this.generation = 0;
    this.loaded = false;
    els.refresh.addEventListener("click", () => this.load());
    els.more.addEventListener("click", () => this.more());
  }

  async load() {
    const generation = ++this.generation;
    this.els.list.setAttribute("aria-busy", "true");
    try {
      const page = await this.api.audit(null, PAGE);
      if (generation !== this.generation) return;
      this.els.list.replaceChildren();
      this.#append(page);
      this.loaded = true;
    } catch (error) {
      if (generation === this.generation) this.#failed(error);
    } finally {
      if (generation === this.generation) this.els.list.setAttribute("aria-busy", "false");
    }
  }

  async more() {
    if (!this.next) return;
    const generation = this.generation;
    try {
      const page = await this.api.audit(this.next, PAGE);
      if (generation === this.generation) this.#append(page);
    } catch (error) {
      this.#failed(error);
    }
  }

  clear() {
    this.generation++;
    this.loaded = false;
    this.next = null;
    this.els.list.replaceChildren();
    this.els.empty.hidden = true;
    this.els.more.hidden = true;
    this.els.error.hidden = true;
  }

  #failed(error) {
    if (error?.status === 401) return;
    this.els.error.textContent = t("console.audit.failed", { why: error.message });
    this.els.error.hidden = false;
  }

  #append(page) {
    this.els.error.hidden = true;
    this.next = page.next;
    for (const review of page.items) this.els.list.append(this.#entry(review));
    this.els.empty.hidden = this.els.list.children.length > 0;
    this.els.more.hidden = !this.next;
  }

  #entry(review) {
    const glyph = (label) => glyphNode(this.alphabet, label, { class: "label-glyph" });
    const img = el("img", { alt: t("console.audit.image_alt"), width: 56, height: 56 });
    this.images.show(img, `/api/drawings/${encodeURIComponent(review.drawing)}.png`);
    const what = tn(`console.audit.entry.${review.action}`, {
      who: el("strong", {}, review.by), from: glyph(review.before_label), to: glyph(review.after_label),
      before: statusWords(review.before_status), after: statusWords(review.after_status),
    });
    const learned = review.learn !== null && review.learn !== undefined;
    return el("li", { class: "entry", dataset: { drawing: review.drawing, action: review.action } },
      el("figure", { class: "thumb small", dataset: { image: "loading" } }, img),
      el("div", {},
        el("p", { class: "what" }, what),
        el("p", { class: "meta muted" },
          el("time", { datetime: review.at }, when(review.at, { seconds: true })), " · ",
          tn("console.audit.drawing", { id: el("code", {}, review.drawing) }),
          learned ? [" · ", tn("console.audit.learn", { label: glyph(review.learn) })] : null)));
  }
}
