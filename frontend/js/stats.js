// The Stats section: drawings per label (digit or character), each online model's holdout accuracy over learn
// steps (original's accuracy dashed, rollbacks marked), and a gallery of the latest drawings.

import { api } from "./api.js";
import { barChart, lineChart } from "./charts.js";
import { alphabetOf } from "./results.js";

const GALLERY_PAGE = 24;

function rollbackMarkers(entry) {
  const history = entry.history || [];
  return (entry.rollbacks || [])
    .map((rb) => {
      const label = `rollback v${rb.from_version} → v${rb.to_version}`;
      // Mark it at the learn step that produced the version rolled back from...
      const match = [...history].reverse().find((h) => h.version === rb.from_version);
      if (match) return { x: match.step, label };
      // ...else at the last measurement before it happened.
      const t = Date.parse(rb.time);
      const before = history.filter((h) => Date.parse(h.time) <= t);
      if (before.length) return { x: before[before.length - 1].step, label };
      return null;
    })
    .filter(Boolean);
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
  }

  /** The gallery's filter: every label of the alphabet, by its glyph (the value is the label index). */
  #buildFilter() {
    const a = this.alphabet;
    const all = document.createElement("option");
    all.value = "";
    all.textContent = `all ${a.noun}s`;
    const options = a.labels.map(({ label, glyph }) => {
      const option = document.createElement("option");
      option.value = String(label);
      option.textContent = glyph;
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
    this.status.textContent = "Loading…";
    try {
      const [data] = await Promise.all([api.stats(), this.loadGallery({ quiet: true })]);
      if (token !== this.loading) return;
      this.data = data;
      this.renderCharts();
      this.status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
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
    this.total.textContent = `${total} drawing${total === 1 ? "" : "s"} so far`;
    const a = this.alphabet;
    const glyphs = data.counts.map((_, label) => a.glyph(label));
    this.counts.replaceChildren(
      barChart(data.counts, { width: this.#width(this.counts, 480), height: 190, labels: glyphs, noun: a.noun, lang: a.lang }),
    );

    const online = data.online || {};
    const cards = [];
    for (const [name, entry] of Object.entries(online)) {
      const title = this.config.titles?.[name] || name;
      const measured = (entry.history || [])
        .map((h) => ({ x: h.step, y: h.holdout_accuracy }))
        .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
        .sort((a, b) => a.x - b.x);
      const original = Number.isFinite(entry.original_accuracy) ? entry.original_accuracy : null;
      // Before its first learn step an online model is the original, so the line starts there.
      const points = original !== null && !measured.some((p) => p.x === 0) ? [{ x: 0, y: original }, ...measured] : measured;
      const card = document.createElement("article");
      card.className = "card chart-card";
      card.dataset.testid = `accuracy-${name}`;
      const head = document.createElement("h3");
      head.textContent = `${title}: holdout accuracy`;
      const meta = document.createElement("p");
      meta.className = "muted";
      const last = measured[measured.length - 1];
      meta.textContent = [
        `v${entry.version}`,
        `${entry.steps} learn step${entry.steps === 1 ? "" : "s"}`,
        last ? `holdout ${(last.y * 100).toFixed(1)}% at step ${last.x}` : "first holdout check still to come",
        original !== null ? `original ${(original * 100).toFixed(1)}%` : null,
      ].filter(Boolean).join(" · ");
      const holder = document.createElement("div");
      holder.className = "chart-holder";
      card.append(head, meta, holder);
      const key = document.createElement("p");
      key.className = "chart-key";
      key.innerHTML =
        '<span class="key-line"></span> online model <span class="key-dash"></span> original <span class="key-rollback"></span> rollback';
      card.append(key);
      cards.push([card, holder, points, entry, title, original]);
    }
    this.accuracy.replaceChildren(...cards.map(([card]) => card));
    for (const [, holder, points, entry, title, original] of cards) {
      if (!points.length) {
        const empty = document.createElement("p");
        empty.className = "empty-chart";
        empty.textContent = "No measurements yet. Save a few drawings with training on and watch this line.";
        holder.append(empty);
        continue;
      }
      holder.append(
        lineChart(points, {
          reference: original,
          markers: rollbackMarkers(entry),
          name: title,
          xMax: entry.steps,
          width: this.#width(holder, 480),
          height: 200,
        }),
      );
    }
  }

  async loadGallery({ append = false, quiet = false } = {}) {
    const label = this.filter.value;
    const a = this.alphabet;
    try {
      const page = await api.drawings({ label: label === "" ? null : Number(label), limit: GALLERY_PAGE, cursor: append ? this.cursor : null });
      if (!append) this.gallery.replaceChildren();
      for (const item of page.items || []) {
        const li = document.createElement("li");
        li.className = `drawing${item.train === false ? " untrained" : ""}`;
        li.dataset.id = item.id;
        li.dataset.label = String(item.label);
        const glyph = a.glyph(item.label);
        const img = document.createElement("img");
        img.src = api.pngUrl(item);
        img.alt = `A drawing labelled ${glyph}`;
        img.loading = "lazy";
        img.width = 72;
        img.height = 72;
        const caption = document.createElement("span");
        caption.className = "label";
        caption.textContent = glyph;
        if (a.lang) caption.lang = a.lang;
        li.append(img, caption);
        if (item.train === false) {
          const badge = document.createElement("span");
          badge.className = "badge";
          badge.textContent = "untrained";
          badge.title = "Stored without training on it";
          li.append(badge);
        }
        const created = Date.parse(item.created);
        if (!Number.isNaN(created)) li.title = `${glyph} · ${new Date(created).toLocaleString()}`;
        this.gallery.append(li);
      }
      if (!this.gallery.children.length) {
        const empty = document.createElement("li");
        empty.className = "empty-gallery";
        empty.textContent = label === "" ? "No drawings yet. Draw one and press Right or Wrong." : `No drawings of ${a.glyph(label)} yet.`;
        this.gallery.append(empty);
      }
      this.cursor = page.next_cursor || null;
      this.more.hidden = !this.cursor;
    } catch (error) {
      if (quiet) throw error;
      this.status.textContent = error.message;
      this.onError(error);
    }
  }
}
