// One drawing of the review queue as the reviewer sees it: its image, the label its writer gave and the label
// now, its status and suspicion, the reasons in words, what the models read before learning it (the answer
// and each model's top 3), its writer's pseudonym and track record, and the four actions.

import { glyphNode } from "../js/glyphs.js";
import { language, percent, t, tn } from "../js/i18n.js";

const REASONS = ["models_disagree", "not_a_character", "memory_disagrees", "writer_record", "writer_quarantined"];
export const ACTIONS = [
  { action: "accept", key: "a", kind: "good" },
  { action: "relabel", key: "r", kind: "ghost" },
  { action: "discard", key: "d", kind: "bad" },
  { action: "undo", key: "u", kind: "ghost" },
];

/** An element: `props` are its attributes (`class`, and `dataset` as an object; null ones left out), then its children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return node;
}

/** A time as the reviewer's language writes it ("Jan 5, 2026, 12:04:31 PM"). */
export function when(iso, { seconds = false } = {}) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso ?? "");
  return new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeStyle: seconds ? "medium" : "short" }).format(date);
}

/** A status in words ("held for review"). */
export const statusWords = (status) => t(`console.status.${REASON_SAFE(status)}`);
const REASON_SAFE = (s) => (["pending", "accepted", "relabelled", "discarded", "quarantined"].includes(s) ? s : "pending");

/** The reasons a drawing is suspicious, in words. */
export function reasonWords(reason) {
  return REASONS.includes(reason) ? t(`console.reasons.${reason}`) : reason;
}

/** A writer's track record in one line. */
export function recordWords(record) {
  if (!record) return t("console.row.record_none");
  return t("console.row.record", {
    drawings: t("console.row.record_drawings", { count: record.drawings }),
    suspicious: record.suspicious, held: record.quarantined, confirmed: record.confirmed, corrected: record.corrected,
  });
}

/**
 * The row of `item` (a ReviewItem) at position `n` (1-based), its writer's `record` (TrackRecordOut) beside it.
 * Returns {li, article, checkbox, img}.
 */
export function buildRow(item, n, { alphabet, titles, record }) {
  const img = el("img", { alt: t("console.row.image_alt", { n }), width: "112", height: "112", decoding: "async" });
  const checkbox = el("input", { type: "checkbox", "aria-label": t("console.row.pick", { n }), dataset: { role: "select" } });
  const article = el("article", { class: "item", tabindex: "-1", "data-testid": "review-item", dataset: { id: item.id } });
  const li = el("li", { class: "row", dataset: { id: item.id } }, article);
  article.append(
    el("div", { class: "pick" }, checkbox),
    el("figure", { class: "thumb", dataset: { image: "loading" } }, img),
    el("div", { class: "facts" }),
    el("div", { class: "actions", role: "group", "aria-label": t("console.row.actions", { n }) },
      ACTIONS.map(({ action, key, kind }) => el("button", {
        type: "button", class: `btn small ${kind}`, dataset: { action }, "aria-keyshortcuts": key.toUpperCase(),
      }, el("span", {}, t(`console.actions.${action}`)), el("kbd", { "aria-hidden": "true" }, key)))),
    el("p", { class: "row-note", dataset: { role: "note" }, hidden: "" }),
  );
  const row = { li, article, checkbox, img, item, n };
  fillRow(row, item, { alphabet, titles, record });
  return row;
}

/** Writes `item`'s facts into its row (again after a review changed them). */
export function fillRow(row, item, { alphabet, titles, record }) {
  row.item = item;
  const { article, li, n } = row;
  const glyph = (label) => glyphNode(alphabet, label, { class: "label-glyph" });
  li.dataset.status = item.status;
  article.dataset.status = item.status;
  article.setAttribute("aria-label", t("console.row.name", {
    n, label: alphabet.glyph(item.label), status: statusWords(item.status), suspicion: percent(item.suspicion),
  }));
  const labels = el("p", { class: "labels" },
    el("span", { class: "given" }, tn("console.row.given", { label: glyph(item.given) })),
    item.label !== item.given ? el("span", { class: "now" }, tn("console.row.now", { label: glyph(item.label) })) : null,
    el("span", { class: `badge status-${item.status}`, "data-testid": "status" }, statusWords(item.status)));
  const bar = el("span", { class: "bar", "aria-hidden": "true" }, el("span"));
  bar.firstChild.style.width = `${Math.round(Math.max(0, Math.min(1, item.suspicion)) * 100)}%`;
  const suspicion = el("p", { class: `suspicion ${item.suspicion >= 0.9 ? "high" : item.suspicion >= 0.5 ? "mid" : "low"}` },
    bar, el("span", {}, t("console.row.suspicion", { percent: percent(item.suspicion) })));
  const reasons = item.reasons?.length
    ? el("ul", { class: "reasons", "aria-label": t("console.row.reasons") }, item.reasons.map((r) => el("li", {}, reasonWords(r))))
    : null;
  const guess = el("p", { class: "guess" }, item.guess === null || item.guess === undefined
    ? t("console.row.guess_none") : tn("console.row.guess", { label: glyph(item.guess) }));
  const models = item.models ? el("dl", { class: "models", "aria-label": t("console.row.models") },
    Object.entries(item.models).map(([name, top]) => el("div", { class: "model" },
      el("dt", {}, titles?.[name] || name),
      el("dd", {}, el("ol", {}, (top || []).slice(0, 3).map((g) =>
        el("li", { dataset: { label: String(g.label) } }, glyph(g.label), el("small", {}, percent(g.p)))))))))
    : null;
  const last = item.reviews?.length ? item.reviews[item.reviews.length - 1] : null;
  const writer = el("p", { class: "writer" },
    el("span", { class: "muted" }, t("console.row.writer")), " ",
    el("button", { type: "button", class: "link-button writer-link", dataset: { writer: item.writer },
      title: t("console.row.writer_filter") }, item.writer),
    el("span", { class: "record" }, recordWords(record)));
  const time = el("p", { class: "when muted" },
    tn("console.row.sent", { when: el("time", { datetime: item.created }, when(item.created)) }),
    last ? el("span", {}, " · ", t("console.row.last_review", { who: last.by, action: t(`console.audit.verb.${last.action}`), when: when(last.at) })) : null);
  article.querySelector(".facts").replaceChildren(labels, suspicion, guess, reasons || "", models || "", writer, time);
  const undo = article.querySelector("[data-action=undo]");
  undo.disabled = !canUndo(item);
}

/** Whether a drawing has a review to undo, as the service decides it: one that is not an undo, nor undone. */
export function canUndo(item) {
  const reviews = item.reviews || [];
  const undone = new Set(reviews.map((r) => r.undoes).filter(Boolean));
  return reviews.some((r) => r.action !== "undo" && !undone.has(r.id));
}
