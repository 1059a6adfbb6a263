// The review queue: drawings most suspicious first (GET /api/admin/review), filtered by status, label, writer
// and time, paged with the service's opaque cursor; one key a decision, on the drawing in focus or on the
// selection (checkboxes, shift-click ranges, x), each carried out in order in the background while focus
// moves on, and each undoable (u, or the toast's Undo).

import { glyphNode } from "../js/glyphs.js";
import { t, tn } from "../js/i18n.js";
import { buildRow, fillRow } from "./row.js";

const PAGE = 50;
export const DEFAULT_FILTERS = { status: "quarantined", label: "", writer: "", since: "", until: "" };

const typing = (target) => target instanceof HTMLElement
  && target.closest("input:not([type=checkbox]), select, textarea, [contenteditable=true]");

export class ReviewQueue {
  /**
   * @param {{api: import("./admin.js").AdminApi, images: import("./admin.js").ImageLoader, alphabet: object,
   *   titles: object, picker: import("./picker.js").LabelPicker, toast: import("./toast.js").Toast, els: object}} parts
   */
  constructor({ api, images, alphabet, titles, picker, toast, els }) {
    Object.assign(this, { api, images, alphabet, titles, picker, toast, els });
    this.filters = { ...DEFAULT_FILTERS };
    this.rows = [];
    this.writers = {};
    this.next = null;
    this.current = -1;
    this.selected = new Set();
    this.anchor = -1; // the row a shift-click range starts from
    this.history = []; // this session's actions, newest last: {action, label, ids}
    this.work = Promise.resolve(); // reviews are sent one after another, in the order they were asked for
    this.generation = 0;
    this.#buildFilters();
    this.#wire();
  }

  // --- filters and pages --------------------------------------------------------------------

  #buildFilters() {
    const { label } = this.els.filters;
    label.append(...this.alphabet.labels.map(({ label: value, glyph }) => {
      const option = document.createElement("option");
      option.value = String(value);
      option.textContent = glyph;
      if (this.alphabet.lang) option.lang = this.alphabet.lang;
      return option;
    }));
    this.#showFilters();
  }

  #showFilters() {
    const f = this.els.filters;
    f.status.value = this.filters.status;
    f.label.value = this.filters.label;
    f.writer.value = this.filters.writer;
    f.since.value = toLocalInput(this.filters.since);
    f.until.value = toLocalInput(this.filters.until);
  }

  #readFilters() {
    const f = this.els.filters;
    return { status: f.status.value, label: f.label.value, writer: f.writer.value.trim(),
      since: fromLocalInput(f.since.value), until: fromLocalInput(f.until.value) };
  }

  /** Shows only `filters` (merged into the filters now) from the top of the queue. */
  filter(filters) {
    this.filters = { ...this.filters, ...filters };
    this.#showFilters();
    return this.load();
  }

  /** The first page for the filters now, replacing what is shown. */
  async load() {
    const generation = ++this.generation;
    this.#busy(true);
    try {
      const page = await this.api.queue(this.filters, null, PAGE);
      if (generation !== this.generation) return;
      this.clear();
      this.writers = page.writers || {};
      this.next = page.next;
      this.#append(page.items);
      if (this.rows.length) this.#setCurrent(0, { focus: false });
      this.#counted();
    } catch (error) {
      if (generation === this.generation) this.#failed(error);
    } finally {
      if (generation === this.generation) this.#busy(false);
    }
  }

  /** The next page, after the rows shown. */
  async more() {
    if (!this.next) return;
    const generation = this.generation;
    this.#busy(true);
    try {
      const page = await this.api.queue(this.filters, this.next, PAGE);
      if (generation !== this.generation) return;
      Object.assign(this.writers, page.writers || {});
      this.next = page.next;
      this.#append(page.items);
      this.#counted();
    } catch (error) {
      this.#failed(error);
    } finally {
      this.#busy(false);
    }
  }

  /** Drops every row (and its image) and the selection: on sign-out nothing a reviewer saw stays. */
  clear() {
    this.images.forget();
    this.els.list.replaceChildren();
    this.rows = [];
    this.writers = {};
    this.next = null;
    this.current = -1;
    this.selected.clear();
    this.anchor = -1;
    this.#selectionChanged();
    this.els.count.textContent = "";
    this.els.empty.hidden = true;
    this.els.more.hidden = true;
  }

  /** Forgets this session's actions too (sign-out). */
  reset() {
    this.generation++;
    this.history = [];
    this.clear();
  }

  #append(items) {
    const start = this.rows.length;
    for (const [i, item] of items.entries()) {
      const row = buildRow(item, start + i + 1, this.#context(item));
      this.rows.push(row);
      this.els.list.append(row.li);
      this.images.show(row.img, item.png_url);
      this.#settled(row);
    }
  }

  #context(item) {
    return { alphabet: this.alphabet, titles: this.titles, record: this.writers[item.writer] };
  }

  #busy(busy) {
    this.els.list.setAttribute("aria-busy", String(busy));
    this.els.refresh.disabled = busy;
    this.els.more.disabled = busy;
  }

  #failed(error) {
    if (error?.status === 401 || error?.name === "AbortError") return; // the console signs out by itself
    this.els.error.textContent = t("console.queue.failed", { why: error.message });
    this.els.error.hidden = false;
  }

  #counted() {
    this.els.error.hidden = true;
    this.els.count.textContent = t("console.queue.count", { count: this.rows.length, more: this.next ? "yes" : "no" });
    this.els.empty.hidden = this.rows.length > 0;
    this.els.more.hidden = !this.next;
  }

  /** A row dims once its status no longer matches the status filter (decided, still shown until Refresh). */
  #settled(row) {
    row.li.classList.toggle("settled", Boolean(this.filters.status) && row.item.status !== this.filters.status);
  }

  // --- focus and selection ------------------------------------------------------------------------

  #setCurrent(index, { focus = true } = {}) {
    if (!this.rows.length) return;
    index = Math.max(0, Math.min(this.rows.length - 1, index));
    for (const [i, row] of this.rows.entries()) {
      row.article.classList.toggle("current", i === index);
      row.article.tabIndex = i === index ? 0 : -1;
    }
    this.current = index;
    if (focus) {
      const { article } = this.rows[index];
      article.focus({ preventScroll: true });
      article.scrollIntoView({ block: "nearest" });
    }
  }

  #toggle(index, { range = false, value = null } = {}) {
    const row = this.rows[index];
    if (!row) return;
    const on = value ?? !this.selected.has(row.item.id);
    const [from, to] = range && this.anchor >= 0 ? [Math.min(this.anchor, index), Math.max(this.anchor, index)] : [index, index];
    for (let i = from; i <= to; i++) {
      if (on) this.selected.add(this.rows[i].item.id);
      else this.selected.delete(this.rows[i].item.id);
    }
    this.anchor = index;
    this.#selectionChanged();
  }

  selectAll(on) {
    this.selected = new Set(on ? this.rows.map((r) => r.item.id) : []);
    this.#selectionChanged();
  }

  #selectionChanged() {
    for (const row of this.rows) {
      const on = this.selected.has(row.item.id);
      row.checkbox.checked = on;
      row.li.classList.toggle("selected", on);
    }
    const n = this.selected.size;
    const all = this.els.selectAll;
    all.checked = n > 0 && n === this.rows.length;
    all.indeterminate = n > 0 && n < this.rows.length;
    all.disabled = !this.rows.length;
    this.els.bulk.hidden = n === 0;
    this.els.bulkCount.textContent = t("console.queue.selected", { count: n });
  }

  // --- decisions -------------------------------------------------------------------------------

  /** The drawings a key acts on: the selection, else the drawing in focus. */
  #targets() {
    if (this.selected.size) return { ids: [...this.selected], bulk: true };
    const row = this.rows[this.current];
    return { ids: row ? [row.item.id] : [], bulk: false };
  }

  #row(id) {
    return this.rows.find((r) => r.item.id === id);
  }

  /**
   * Takes `action` on `ids` (default: the selection, else the drawing in focus); a relabel without a label asks
   * the picker. A single drawing's decision moves focus to the next at once; the request goes in the background.
   */
  async act(action, { ids = null, bulk = null, label = null, record = true, undoing = null } = {}) {
    const targets = ids ? { ids, bulk: bulk ?? ids.length > 1 } : this.#targets();
    if (!targets.ids.length) return;
    if (action === "relabel" && label === null) {
      const one = targets.ids.length === 1 ? this.#row(targets.ids[0]) : null;
      label = await this.picker.choose({ count: targets.ids.length, current: one?.item.guess ?? null });
      this.#setCurrent(this.current);
      if (label === null) return;
    }
    const rows = targets.ids.map((id) => this.#row(id)).filter(Boolean);
    for (const row of rows) this.#note(row, t("console.row.saving"), "busy");
    const entry = { action, label, ids: targets.ids, undoing, reviews: [] };
    if (record && action !== "undo") this.history.push(entry);
    if (targets.bulk) this.selectAll(false);
    else if (action !== "undo" && rows[0] && this.rows.indexOf(rows[0]) === this.current) this.#advance();
    const generation = this.generation; // a sign-out meanwhile drops what was still to be sent
    this.work = this.work.catch(() => {}).then(() => (generation === this.generation ? this.#send(entry, targets.bulk) : null));
    return this.work;
  }

  #advance() {
    if (this.current < this.rows.length - 1) this.#setCurrent(this.current + 1);
  }

  async #send(entry, bulk) {
    const { action, label } = entry;
    // undoing an action: the drawings it was done to (known once it was answered), and only its own reviews
    const ids = entry.undoing ? entry.undoing.ids : entry.ids;
    if (!ids.length) { // the action it undoes was refused everywhere: nothing of it to take back
      for (const id of entry.ids) if (this.#row(id)) this.#note(this.#row(id), null);
      return;
    }
    const undoes = action === "undo" ? this.#seen(entry) : null;
    const generation = this.generation;
    let done = [];
    let refused = {};
    try {
      if (bulk) ({ done, refused } = await this.api.reviewMany(ids, action, label, undoes));
      else done = [await this.api.review(ids[0], action, label, undoes)];
    } catch (error) {
      if (error?.status === 401 || generation !== this.generation) return;
      refused = Object.fromEntries(ids.map((id) => [id, error.message]));
    }
    if (generation !== this.generation) return;
    for (const { drawing } of done) {
      const row = this.#row(drawing.id);
      if (!row) continue;
      fillRow(row, drawing, this.#context(drawing));
      this.#note(row, null);
      this.#settled(row);
    }
    for (const [id, why] of Object.entries(refused)) {
      const row = this.#row(id);
      if (row) this.#note(row, why, "error");
    }
    const doneIds = done.map((d) => d.drawing.id);
    entry.ids = doneIds; // what an undo of it takes back: these drawings' reviews it made
    entry.reviews = done.map((d) => d.review.id);
    if (!doneIds.length) this.history = this.history.filter((e) => e !== entry);
    this.#told(entry, doneIds.length, refused);
  }

  #told(entry, count, refused) {
    const words = [];
    if (count) {
      words.push(...tn(`console.done.${entry.action}`, { count, label: entry.label === null ? "" : glyphNode(this.alphabet, entry.label) }));
    }
    const failed = Object.values(refused);
    if (failed.length) {
      if (words.length) words.push(" ");
      words.push(t("console.done.refused", { count: failed.length, why: failed[0] }));
    }
    const undoable = count > 0 && entry.action !== "undo" && this.history[this.history.length - 1] === entry;
    this.toast.show(words, { undo: undoable ? () => this.undoLast() : null, error: failed.length > 0 });
  }

  /** u: takes back the selection's last reviews, else this session's last action, else the focused drawing's last review. */
  undoLast() {
    if (this.selected.size) return this.act("undo");
    const last = this.history.pop();
    if (last) {
      const first = this.rows.findIndex((r) => last.ids.includes(r.item.id));
      if (first >= 0) this.#setCurrent(first);
      return this.act("undo", { ids: last.ids, bulk: last.ids.length > 1, record: false, undoing: last });
    }
    return this.act("undo");
  }

  /**
   * The reviews an undo may take back, as it is sent (the actions before it answered by then): those the
   * action it undoes made, else those its rows show. A colleague's review made since is in neither, so the
   * service refuses to take it back.
   */
  #seen(entry) {
    if (entry.undoing) return entry.undoing.reviews;
    return entry.ids.flatMap((id) => (this.#row(id)?.item.reviews || []).map((r) => r.id));
  }

  /** A row's own Undo button: its last review, which leaves this session's history. */
  #undoRow(row) {
    for (const entry of this.history) entry.ids = entry.ids.filter((id) => id !== row.item.id);
    this.history = this.history.filter((e) => e.ids.length);
    return this.act("undo", { ids: [row.item.id], bulk: false });
  }

  #note(row, words, kind = null) {
    const note = row.article.querySelector("[data-role=note]");
    note.textContent = words || "";
    note.hidden = !words;
    note.dataset.kind = kind || "";
    row.article.toggleAttribute("data-busy", kind === "busy");
  }

  // --- keys and clicks ---------------------------------------------------------------------------

  /** The queue's keys (the console hands them over while the queue is shown). True when used. */
  keydown(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || this.picker.isOpen) return false;
    const key = event.key;
    const inList = this.els.list.contains(event.target) || event.target === document.body;
    const run = (fn) => {
      event.preventDefault();
      fn();
      return true;
    };
    if (key === "j" || (key === "ArrowDown" && inList)) {
      return run(() => (this.current >= this.rows.length - 1 && this.next
        ? this.more().then(() => this.#setCurrent(this.current + 1)) : this.#setCurrent(this.current + 1)));
    }
    if (key === "k" || (key === "ArrowUp" && inList)) return run(() => this.#setCurrent(this.current - 1));
    if (key === "Home" && inList) return run(() => this.#setCurrent(0));
    if (key === "End" && inList) return run(() => this.#setCurrent(this.rows.length - 1));
    if (key === "x" || key === "X") return run(() => this.#toggle(this.current, { range: event.shiftKey }));
    if (key === "Escape" && this.selected.size) return run(() => this.selectAll(false));
    if (key === "a") return run(() => this.act("accept"));
    if (key === "d") return run(() => this.act("discard"));
    if (key === "r") return run(() => this.act("relabel"));
    if (key === "u") return run(() => this.undoLast());
    if (key === "g") {
      const { ids } = this.#targets();
      const guesses = new Set(ids.map((id) => this.#row(id)?.item.guess).filter((g) => g !== null && g !== undefined));
      return run(() => (guesses.size === 1 ? this.act("relabel", { label: [...guesses][0] })
        : this.toast.show(t("console.queue.no_guess"), { error: true })));
    }
    if (/^[0-9]$/.test(key) && this.alphabet.isDigits) return run(() => this.act("relabel", { label: Number(key) }));
    if (key === "n" && this.next) return run(() => this.more());
    return false;
  }

  #wire() {
    const { list } = this.els;
    list.addEventListener("click", (event) => {
      const row = this.rows.find((r) => r.li.contains(event.target));
      if (!row) return;
      const index = this.rows.indexOf(row);
      const checkbox = event.target.closest("[data-role=select]");
      if (checkbox) {
        this.#toggle(index, { range: event.shiftKey, value: checkbox.checked });
        this.#setCurrent(index, { focus: false });
        return;
      }
      const writer = event.target.closest("[data-writer]");
      if (writer) {
        this.filter({ writer: writer.dataset.writer, status: "" });
        return;
      }
      const button = event.target.closest("[data-action]");
      this.#setCurrent(index, { focus: !button });
      if (!button) return;
      if (button.dataset.action === "undo") this.#undoRow(row);
      else this.act(button.dataset.action, { ids: [row.item.id], bulk: false });
    });
    list.addEventListener("focusin", (event) => {
      const index = this.rows.findIndex((r) => r.li.contains(event.target));
      if (index >= 0 && index !== this.current) this.#setCurrent(index, { focus: false });
    });
    const f = this.els.filters;
    f.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.filters = this.#readFilters();
      this.load();
    });
    f.reset.addEventListener("click", () => this.filter({ ...DEFAULT_FILTERS }));
    this.els.refresh.addEventListener("click", () => this.load());
    this.els.more.addEventListener("click", () => this.more());
    this.els.selectAll.addEventListener("change", () => this.selectAll(this.els.selectAll.checked));
    for (const button of this.els.bulk.querySelectorAll("[data-bulk]")) {
      button.addEventListener("click", () => {
        const action = button.dataset.bulk;
        if (action === "clear") this.selectAll(false);
        else if (action === "undo") this.act("undo");
        else this.act(action);
      });
    }
  }
}

/** "2026-01-05T12:04:00.000Z" as a datetime-local field shows it (the reviewer's own time), or "". */
function toLocalInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local field's value (the reviewer's own time) as the ISO time the service compares, or "". */
function fromLocalInput(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
