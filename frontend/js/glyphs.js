// The alphabet on the page: what GET /api/config says is drawn here (its labels and glyphs, the picker's
// rows, how each glyph is written), how the page names a label in a sentence ("an 8", "あ"), the grids of
// glyph buttons (the picker's and teach mode's) with the arrow keys of a grid of radios, and the page's words
// for the alphabet (the message catalogue's `kind` and `title`).

import { has, onLanguageChange, setDefaults, t, translatePage } from "./i18n.js";

const DIGIT_GLYPHS = "0123456789";

/**
 * The deployment's alphabet, from GET /api/config: its labels and glyphs, the picker's rows, and how the
 * page names them. The digits are named with their article ("It's an 8!"); another alphabet's characters
 * by their glyph, in their own language ("It's あ!").
 */
export function alphabetOf(config = {}) {
  const given = Array.isArray(config.labels) && config.labels.length ? config.labels : null;
  const labels = (given || [...DIGIT_GLYPHS].map((glyph, label) => ({ label, glyph })))
    .map(({ label, glyph }) => ({ label: Number(label), glyph: String(glyph ?? label) }))
    .sort((a, b) => a.label - b.label);
  const isDigits = labels.length === 10 && labels.every(({ label, glyph }, i) => label === i && glyph === String(i));
  const info = config.alphabet || {};
  const glyphs = new Map(labels.map(({ label, glyph }) => [label, glyph]));
  const rows = !isDigits && Array.isArray(info.rows) && info.rows.length ? info.rows : null;
  return {
    name: info.name || (isDigits ? "digits" : "alphabet"),
    title: info.title || null, // as the alphabet's file names it; the page says alphabetTitle()
    labels,
    isDigits,
    kind: isDigits ? "digits" : "other", // how the message catalogue tells the alphabets apart
    calibrated: info.calibrated ? "yes" : "no", // "% sure" calibrated on held-out writers (docs/ood.md)
    rows,
    columns: rows ? Math.max(...rows.map((row) => row.length)) : null,
    lang: isDigits ? null : info.lang || null, // the alphabet file says (hiragana: "ja")
    strokes: info.strokes?.paths?.length === labels.length ? info.strokes : null, // how each glyph is written
    /** The glyph of class `label` (the label itself if the config does not know it). */
    glyph(label) {
      return glyphs.get(Number(label)) ?? String(label);
    },
    /** `label` as a sentence names it, as text: "an 8", "a 5" for the digits; "あ" otherwise. */
    named(label) {
      return isDigits ? t("common.digit_named", { glyph: this.glyph(label) }) : this.glyph(label);
    },
    /** The same as a node, for a message's placeholder: the glyph in its own language (for its fonts). */
    namedNode(label) {
      return isDigits ? document.createTextNode(this.named(label)) : glyphNode(this, label);
    },
    /** The label before or after `label`, going round. */
    step(label, by) {
      const index = labels.findIndex((entry) => entry.label === label);
      return labels[(index + by + labels.length) % labels.length].label;
    },
  };
}

/** The class an answer or guess names: `label`, or for older answers `digit`; null when none. */
export function labelOf(item) {
  if (!item) return null;
  const label = item.label ?? item.digit;
  return label === null || label === undefined ? null : Number(label);
}

/** A glyph as a node: plain text for the digits, else a span in the alphabet's language (for its fonts). */
export function glyphNode(alphabet, label, props = {}) {
  const glyph = alphabet.glyph(label);
  if (!alphabet.lang && !Object.keys(props).length) return document.createTextNode(glyph);
  const span = document.createElement("span");
  if (alphabet.lang) span.lang = alphabet.lang;
  for (const [key, value] of Object.entries(props)) span.setAttribute(key, value);
  span.className = ["glyph", props.class].filter(Boolean).join(" ");
  span.textContent = glyph;
  return span;
}

/**
 * One button per label of the alphabet, each showing its glyph; `data-digit` and the test id carry the
 * label index. The digits (and any alphabet without rows) flow in a grid; an alphabet with `rows` is laid
 * out as that table (a row per entry, a gap for each null), e.g. the kana table with its や and わ rows.
 */
export function glyphButtons(container, alphabet, { testid, role = null, label }) {
  const buttons = [];
  const make = (entry) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "digit";
    button.textContent = entry.glyph;
    button.dataset.digit = String(entry.label);
    button.dataset.testid = `${testid}${entry.label}`;
    button.setAttribute("aria-label", label(entry.label));
    if (alphabet.lang) button.lang = alphabet.lang;
    if (role) {
      button.setAttribute("role", role);
      button.setAttribute("aria-checked", "false");
      button.tabIndex = buttons.length === 0 ? 0 : -1;
    }
    buttons.push(button);
    return button;
  };
  if (alphabet.rows) {
    container.className = "glyph-table";
    container.style.setProperty("--columns", String(alphabet.columns));
    alphabet.rows.forEach((row, r) => {
      const line = document.createElement("div");
      line.className = "glyph-row";
      row.forEach((labelIndex, c) => {
        if (labelIndex === null || labelIndex === undefined) {
          const gap = document.createElement("span");
          gap.className = "glyph-gap";
          gap.setAttribute("aria-hidden", "true");
          line.append(gap);
          return;
        }
        const button = make({ label: labelIndex, glyph: alphabet.glyph(labelIndex) });
        button.dataset.row = String(r);
        button.dataset.col = String(c);
        line.append(button);
      });
      container.append(line);
    });
  } else {
    if (!alphabet.isDigits) container.classList.add("glyph-flow");
    for (const entry of alphabet.labels) container.append(make(entry));
  }
  return buttons;
}

/**
 * The arrow keys in a grid of radios (`buttons`, from glyphButtons): each moves to the next or previous
 * glyph and picks it; in a table, up and down keep to the column.
 */
export function radioKeys(event, buttons) {
  const index = buttons.indexOf(document.activeElement);
  if (index < 0) return;
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
  if (!step) return;
  event.preventDefault();
  let next = buttons[(index + step + buttons.length) % buttons.length];
  const here = buttons[index].dataset;
  if (here.row !== undefined && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
    // In a table, up and down keep to the column: the nearest row above or below with a glyph there.
    const row = Number(here.row);
    const column = buttons.filter((b) => b.dataset.col === here.col);
    const below = column.filter((b) => (step > 0 ? Number(b.dataset.row) > row : Number(b.dataset.row) < row));
    if (below.length) next = step > 0 ? below[0] : below[below.length - 1];
  }
  next.focus();
  next.click();
}

/** The alphabet's title in the page's language (alphabets.<name>), else as its file gives it, else "Characters". */
export function alphabetTitle(alphabet) {
  const key = `alphabets.${alphabet.name}`;
  return has(key) ? t(key) : alphabet.title ?? t("alphabets.other");
}

/**
 * The page's words for this alphabet: every message learns its kind and title, then index.html is worded;
 * again in each language the page switches to.
 */
export function applyAlphabetWords(alphabet) {
  const apply = () => {
    const name = alphabetTitle(alphabet);
    setDefaults({ kind: alphabet.kind, title: name, calibrated: alphabet.calibrated });
    const title = document.querySelector('[data-testid="alphabet-title"]');
    if (title && !alphabet.isDigits) {
      title.textContent = name;
      title.hidden = false;
    }
  };
  apply();
  translatePage();
  onLanguageChange(apply); // before any part rewords itself: their words name the alphabet too
  document.documentElement.dataset.alphabet = alphabet.name;
}

/** Brings `element` into view if it is not wholly on screen (smoothly, unless the person asked for less motion). */
export function bringIntoView(element, block = "nearest") {
  const box = element.getBoundingClientRect();
  if (box.top >= 0 && box.bottom <= window.innerHeight) return;
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  element.scrollIntoView({ block, behavior: still ? "auto" : "smooth" });
}
