// The Stats section: drawings per label (digit or character), each online model's holdout accuracy over learn
// steps on an honest axis (from 90%, the original's accuracy dashed, rollbacks marked, and in the legend only
// when there are any), the terms explained, and a gallery of the latest drawings given to train the models
// (the total counts the private ones too, and the page says so).

import { api } from "./api.js";
import { accuracy, barChart, lineChart } from "./charts.js";
import { alphabetOf } from "./glyphs.js";
import { language, onLanguageChange, t } from "./i18n.js";
import { modelTitle } from "./results.js";

const GALLERY_PAGE = 24;

function rollbackMarkers(entry) {
  const history = entry.history || [];
  return (entry.rollbacks || [])
    .map((rb) => {
      const label = t("stats.rollback", { from: String(rb.from_version), to: String(rb.to_version) });
      // Mark it at the learn step that produced the version rolled back from...
      const match = [...history].reverse().find((h) => h.version === rb.from_version);
      if (match) return { x: match.step, label };
      // ...else at the last measurement before it happened.
      const time = Date.parse(rb.time);
      const before = history.filter((h) => Date.parse(h.time) <= time);
      if (before.length) return { x: before[before.length - 1].step, label };
      return null;
    })
    .filter(Boolean);
}

function element(tag, { className, text } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The chart's legend: the online line and the original's always, the rollback mark only if there is one. */
function chartKey(withRollbacks) {
  const key = element("p", { className: "chart-key" });
  key.append(element("span", { className: "key-line" }), ` ${t("stats.key_online")} `,
    element("span", { className: "key-dash" }), ` ${t("stats.key_original")}`);
  if (withRollbacks) key.append(" ", element("span", { className: "key-rollback" }), ` ${t("stats.key_rollback")}`);
  return key;
}

export class Stats {
  constructor(root, config, { onError } = {}) {
    this.root = root;
    this.config = config;
    this.alphabet = alphabetOf(config);
    this.onError = onError || (() => {});
    this.counts = root.querySelector("[data-testid=counts-chart]");
    this.total = root.querySelector("[data-testid=stats-total]");
    this.accuracy = root.querySelector("[data-testid=accuracy-charts]");
    this.gallery = root.querySelector("[data-testid=gallery]");
    this.more = root.querySelector("[data-testid=gallery-more]");
    this.filter = root.querySelector("[data-testid=gallery-filter]");
    this.status = root.querySelector("[data-testid=stats-status]");
    this.#buildFilter();
    this.data = null;
    this.cursor = null;
    this.loading = 0;
    this.more.addEventListener("click", () => this.loadGallery({ append: true }));
    this.filter.addEventListener("change", () => this.loadGallery());
    let lastWidth = 0;
    new ResizeObserver(() => {
      const width = this.root.clientWidth;
      if (this.data && Math.abs(width - lastWidth) > 8) {
        lastWidth = width;
        this.renderCharts();
      }
    }).observe(this.root);
    onLanguageChange(() => {
      const shown = this.filter.value;
      this.#buildFilter();
      this.filter.value = shown;
      if (this.data) this.refresh(); // the charts, the gallery and the status line, worded afresh
    });
  }

  /** The gallery's filter: every label of the alphabet, by its glyph (the value is the label index). */
  #buildFilter() {
    const a = this.alphabet;
    const all = element("option", { text: t("stats.filter_all") });
    all.value = "";
    const options = a.labels.map(({ label, glyph }) => {
      const option = element("option", { text: glyph });
      option.value = String(label);
      if (a.lang) option.lang = a.lang;
      return option;
    });
    this.filter.replaceChildren(all, ...options);
    if (a.lang) this.filter.classList.add("glyph-select");
    // A long alphabet's count chart takes the whole row, so its bars are wider and wrap less.
    this.counts.closest(".chart-card")?.classList.toggle("wide", a.labels.length > 20);
  }

  async refresh() {
    const token = ++this.loading;
    this.status.textContent = t("stats.loading");
    try {
      const [data] = await Promise.all([api.stats(), this.loadGallery({ quiet: true })]);
      if (token !== this.loading) return;
      this.data = data;
      this.renderCharts();
      this.#sayWhyEmpty();
      this.status.textContent = t("stats.updated", { time: new Date().toLocaleTimeString(language()) });
    } catch (error) {
      if (token !== this.loading) return;
      this.status.textContent = error.message;
      this.onError(error);
    }
  }

  #width(node, fallback) {
    return Math.max(240, Math.floor(node.clientWidth || fallback));
  }

  renderCharts() {
    const data = this.data;
    if (!data) return;
    const total = data.total ?? data.counts.reduce((a, b) => a + b, 0);
    this.total.textContent = t("stats.total", { count: total });
    const a = this.alphabet;
    const glyphs = data.counts.map((_, label) => a.glyph(label));
    this.counts.replaceChildren(barChart(data.counts, { width: this.#width(this.counts, 480), height: 190, labels: glyphs, lang: a.lang }));

    const online = data.online || {};
    const cards = [];
    for (const [name, entry] of Object.entries(online)) {
      const title = modelTitle(this.config, name);
      const measured = (entry.history || [])
        .map((h) => ({ x: h.step, y: h.holdout_accuracy }))
        .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
        .sort((p, q) => p.x - q.x);
      const original = Number.isFinite(entry.original_accuracy) ? entry.original_accuracy : null;
      // Before its first learn step an online model is the original, so the line starts there.
      const points = original !== null && !measured.some((p) => p.x === 0) ? [{ x: 0, y: original }, ...measured] : measured;
      const markers = rollbackMarkers(entry);
      const card = element("article", { className: "card chart-card" });
      card.dataset.testid = `accuracy-${name}`;
      const last = measured[measured.length - 1];
      const meta = [
        t("stats.meta_version", { version: String(entry.version) }),
        t("stats.meta_steps", { count: entry.steps }),
        last ? t("stats.meta_last", { percent: accuracy(last.y), step: last.x }) : t("stats.meta_none"),
        original !== null ? t("stats.meta_original", { percent: accuracy(original) }) : null,
      ].filter(Boolean).join(t("common.separator"));
      const holder = element("div", { className: "chart-holder" });
      card.append(element("h3", { text: t("stats.accuracy_heading", { title }) }), element("p", { className: "muted", text: meta }), holder,
        chartKey(markers.length > 0));
      cards.push({ card, holder, points, entry, title, original, markers });
    }
    this.accuracy.replaceChildren(...cards.map(({ card }) => card));
    for (const { holder, points, entry, title, original, markers } of cards) {
      if (!points.length) {
        holder.append(element("p", { className: "empty-chart", text: t("stats.no_measurements") }));
        continue;
      }
      holder.append(lineChart(points, { reference: original, markers, name: title, xMax: entry.steps, width: this.#width(holder, 480), height: 200 }));
    }
  }

  async loadGallery({ append = false, quiet = false } = {}) {
    const label = this.filter.value;
    const a = this.alphabet;
    try {
      const page = await api.drawings({ label: label === "" ? null : Number(label), limit: GALLERY_PAGE, cursor: append ? this.cursor : null });
      if (!append) this.gallery.replaceChildren();
      for (const item of page.items || []) {
        const li = element("li", { className: `drawing${item.train === false ? " untrained" : ""}` });
        li.dataset.id = item.id;
        li.dataset.label = String(item.label);
        const glyph = a.glyph(item.label);
        const img = document.createElement("img");
        img.src = api.pngUrl(item);
        img.alt = t("stats.drawing_alt", { glyph });
        img.loading = "lazy";
        img.width = 72;
        img.height = 72;
        const caption = element("span", { className: "label", text: glyph });
        if (a.lang) caption.lang = a.lang;
        li.append(img, caption);
        if (item.train === false) {
          const badge = element("span", { className: "badge", text: t("stats.untrained") });
          badge.title = t("stats.untrained_title");
          li.append(badge);
        }
        const created = Date.parse(item.created);
        if (!Number.isNaN(created)) li.title = t("stats.drawing_title", { glyph, time: new Date(created).toLocaleString(language()) });
        this.gallery.append(li);
      }
      if (!this.gallery.children.length) this.gallery.append(element("li", { className: "empty-gallery" }));
      this.#sayWhyEmpty();
      this.cursor = page.next_cursor || null;
      this.more.hidden = !this.cursor;
    } catch (error) {
      if (quiet) throw error;
      this.status.textContent = error.message;
      this.onError(error);
    }
  }

  /** An empty gallery says why: nothing drawn yet, nothing of that label, or every drawing so far kept private. */
  #sayWhyEmpty() {
    const empty = this.gallery.querySelector(".empty-gallery");
    if (!empty) return;
    const label = this.filter.value;
    const total = this.data?.total ?? 0;
    if (label !== "") empty.textContent = t("stats.gallery_empty_label", { glyph: this.alphabet.glyph(label) });
    else if (total > 0) empty.textContent = t("stats.gallery_empty_private", { count: total });
    else empty.textContent = t("stats.gallery_empty");
  }
}
