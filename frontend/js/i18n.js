// The page's words: one message catalogue per language (frontend/i18n/<lang>.json), and t() to say them.
//
// A message is a string with {name} placeholders, or an object that chooses between strings:
//   {"plural": "count", "=0": "no drawings", "one": "# drawing", "other": "# drawings"}
//       by the plural category of params.count (Intl.PluralRules), exact "=N" cases first; # is the count
//   {"select": "kind", "digits": "Draw a digit", "other": "Draw a character"}
//       by the value of a parameter ("other" when no case matches)
// Cases may nest (a select whose case is a plural). Numbers in placeholders are formatted for the language
// (Intl.NumberFormat); percent() formats a probability. A message may mark words up with <strong>, <em>,
// <kbd> and <b>, which tn() turns into elements (never innerHTML); t() drops the marks.
//
// Every message also sees the page's own parameters (setDefaults): `kind` ("digits" or "other": the
// alphabet), `title` (the alphabet's title) and `count` of labels, so that one key serves every alphabet.

const AVAILABLE = ["en"]; // the catalogues in frontend/i18n/; the first is the fallback
const TAGS = new Set(["strong", "em", "kbd", "b"]);

let locale = AVAILABLE[0];
let messages = {};
let defaults = {};
let plurals = new Intl.PluralRules(locale);
let numbers = new Intl.NumberFormat(locale);

/** The best catalogue for the browser's languages (navigator.languages), or the fallback. */
export function chooseLanguage(wanted = navigator.languages || [navigator.language]) {
  for (const tag of wanted) {
    const lang = String(tag || "").toLowerCase();
    const hit = AVAILABLE.find((a) => a === lang) || AVAILABLE.find((a) => a === lang.split("-")[0]);
    if (hit) return hit;
  }
  return AVAILABLE[0];
}

/** Fetches and installs the catalogue of `lang` (same origin: frontend/i18n/<lang>.json); `base` is the way
 * from the page to frontend/ ("../" from the console at /console/). */
export async function loadMessages(lang = chooseLanguage(), base = "") {
  const response = await fetch(`${base}i18n/${lang}.json`, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`i18n/${lang}.json: HTTP ${response.status}`);
  useMessages(await response.json(), lang);
}

/** Installs a catalogue (loadMessages does; tests may too). */
export function useMessages(catalogue, lang = AVAILABLE[0]) {
  messages = catalogue || {};
  locale = lang;
  plurals = new Intl.PluralRules(locale);
  numbers = new Intl.NumberFormat(locale);
  document.documentElement.lang = locale;
}

/** Parameters every message sees (the alphabet's kind and title), merged under each call's own. */
export function setDefaults(params) {
  defaults = { ...defaults, ...params };
}

export const language = () => locale;

/** A number as the language writes it ("1,234"). */
export function number(n, options) {
  return options ? new Intl.NumberFormat(locale, options).format(n) : numbers.format(n);
}

/** A probability as a whole percentage ("92%"), "<1%" for a small one that is not zero, "–" for none. */
export function percent(p) {
  if (!Number.isFinite(p)) return t("common.no_number");
  const format = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 });
  if (p > 0 && p < 0.005) return t("common.below_percent", { percent: format.format(0.01) });
  return format.format(p);
}

/** Looks a key up ("answer.headline.its"); a missing key says itself, so that it shows and a test finds it. */
function lookup(key) {
  let node = messages;
  for (const part of key.split(".")) {
    node = node && typeof node === "object" ? node[part] : undefined;
  }
  return node;
}

function choose(message, params) {
  while (message && typeof message === "object") {
    if ("plural" in message) {
      const n = Number(params[message.plural]);
      message = message[`=${n}`] ?? message[plurals.select(n)] ?? message.other;
      if (typeof message === "string") message = message.replaceAll("#", number(n));
    } else if ("select" in message) {
      const value = String(params[message.select]);
      message = Object.hasOwn(message, value) && value !== "select" ? message[value] : message.other;
    } else {
      return null; // a group of keys, not a message
    }
  }
  return typeof message === "string" ? message : null;
}

function resolve(key, params) {
  const all = { ...defaults, ...params };
  const message = choose(lookup(key), all);
  if (message === null) {
    console.warn(`i18n: no message for ${key}`);
    return { text: key, all };
  }
  return { text: message, all };
}

function formatted(value) {
  return typeof value === "number" ? number(value) : String(value ?? "");
}

/** The message `key` as plain text, its {placeholders} filled from `params` (and the defaults). */
export function t(key, params = {}) {
  const { text, all } = resolve(key, params);
  return text
    .replace(/\{(\w+)\}/g, (whole, name) => {
      const value = all[name];
      if (value instanceof Node) return value.textContent;
      return value === undefined ? whole : formatted(value);
    })
    .replace(/<\/?(\w+)>/g, (whole, tag) => (TAGS.has(tag) ? "" : whole));
}

/**
 * The message `key` as nodes, for a message that holds other nodes (a glyph in its own language, a link)
 * or marked-up words: placeholders whose value is a Node are put in as that node.
 * @returns {(Node|string)[]}  to append or replaceChildren with
 */
export function tn(key, params = {}) {
  const { text, all } = resolve(key, params);
  const root = document.createDocumentFragment();
  const stack = [root];
  const parts = text.split(/(<\/?\w+>|\{\w+\})/);
  for (const part of parts) {
    if (!part) continue;
    const open = part.match(/^<(\w+)>$/);
    const close = part.match(/^<\/(\w+)>$/);
    const hole = part.match(/^\{(\w+)\}$/);
    const top = stack[stack.length - 1];
    if (open && TAGS.has(open[1])) {
      const element = document.createElement(open[1]);
      top.append(element);
      stack.push(element);
    } else if (close && TAGS.has(close[1]) && stack.length > 1) {
      stack.pop();
    } else if (hole && hole[1] in all) {
      const value = all[hole[1]];
      top.append(value instanceof Node ? value : formatted(value));
    } else {
      top.append(part);
    }
  }
  return [...root.childNodes];
}

/**
 * Words of index.html: every element with data-i18n gets its text from the catalogue, and
 * data-i18n-<attribute> (aria-label, title, alt, content, placeholder) its attribute. Elements inside one with
 * data-i18n-param="name" are kept and put in where the message says {name} (a link, say).
 */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    const params = {};
    for (const child of node.querySelectorAll("[data-i18n-param]")) params[child.dataset.i18nParam] = child;
    node.replaceChildren(...tn(node.dataset.i18n, params));
  }
  for (const attribute of ["aria-label", "title", "alt", "content", "placeholder"]) {
    const data = `data-i18n-${attribute}`;
    for (const node of root.querySelectorAll(`[${data}]`)) node.setAttribute(attribute, t(node.getAttribute(data)));
  }
}
