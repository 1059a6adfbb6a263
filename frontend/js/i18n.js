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
//
// The page speaks one of LANGUAGES: the one the person chose (the header's picker, remembered in this
// browser), else the best match of the browser's languages, else English (startLanguage). A key a catalogue
// lacks is said in English and listed in window.__i18nMissing ("de:answer.its"), where the browser tests look;
// a key no catalogue has says itself. Switching language (setLanguage) rewords the page without a reload:
// translatePage does index.html, and every part that wrote words of its own rewrites them (onLanguageChange).

/** The page's languages, each named in itself (as the picker shows them); the first is the fallback. */
export const LANGUAGES = [
  { tag: "en", name: "English" },
  { tag: "de", name: "Deutsch" },
  { tag: "fr", name: "Français" },
  { tag: "ru", name: "Русский" },
  { tag: "zh-Hans", name: "简体中文" },
  { tag: "ja", name: "日本語" },
];
const FALLBACK = LANGUAGES[0].tag;
const CHOICE_KEY = "inkling.language"; // localStorage: the language the person chose with the picker
const TAGS = new Set(["strong", "em", "kbd", "b"]);

let locale = FALLBACK;
let messages = {};
let fallback = null; // English under a catalogue that lacks a key (null while English is spoken)
let defaults = {};
let plurals = new Intl.PluralRules(locale);
let numbers = new Intl.NumberFormat(locale);
const catalogues = new Map(); // tag -> the promise of its catalogue, fetched once
let root = ""; // the way from the page to frontend/ (loadMessages)
const listeners = [];
const missing = (window.__i18nMissing = window.__i18nMissing || []); // "<lang>:<key>", once each

/** The page's language for a BCP 47 tag, or null: the same language in the same script ("zh-CN", "zh-SG"
 * and "zh" are zh-Hans; "zh-TW" is Traditional and is not; "de-AT" is de). */
export function matchLanguage(tag) {
  let wanted;
  try {
    wanted = new Intl.Locale(String(tag)).maximize();
  } catch {
    return null; // not a language tag
  }
  const hit = LANGUAGES.find(({ tag: ours }) => {
    const have = new Intl.Locale(ours).maximize();
    return have.language === wanted.language && have.script === wanted.script;
  });
  return hit ? hit.tag : null;
}

/** The best of the page's languages for the browser's (navigator.languages, most wanted first), or null. */
export function chooseLanguage(wanted = navigator.languages || [navigator.language]) {
  for (const tag of wanted) {
    const hit = matchLanguage(tag);
    if (hit) return hit;
  }
  return null;
}

/** The language the person chose with the picker (kept in this browser), or null. */
export function chosenLanguage() {
  try {
    return matchLanguage(localStorage.getItem(CHOICE_KEY) ?? "");
  } catch {
    return null; // storage refused (private mode): nothing was kept
  }
}

/** Keeps the person's choice of language for their next visit. */
export function rememberLanguage(tag) {
  try {
    localStorage.setItem(CHOICE_KEY, tag);
  } catch {
    /* storage refused: the choice lasts as long as the page */
  }
}

/**
 * The language the page opens in: the person's own choice, else the browser's best match, else English.
 * An alphabet written in a language of the page's (hiragana: "ja") opens in that language unless the person
 * chose another or the browser asks for one of the page's languages other than English: English is what
 * most browsers say when nobody set them, and a learner of Japanese may well have English set.
 */
export function startLanguage({ alphabetLanguage = null, wanted = undefined, chosen = chosenLanguage() } = {}) {
  const browser = chooseLanguage(wanted); // `wanted` and `chosen`: the browser's and the person's, unless a test says
  const own = alphabetLanguage ? matchLanguage(alphabetLanguage) : null;
  return chosen ?? (own && (browser === null || browser === FALLBACK) ? own : browser ?? FALLBACK);
}

function catalogue(lang) {
  let loading = catalogues.get(lang);
  if (!loading) {
    loading = fetch(`${root}i18n/${lang}.json`, { headers: { Accept: "application/json" } }).then((response) => {
      if (!response.ok) throw new Error(`i18n/${lang}.json: HTTP ${response.status}`);
      return response.json();
    });
    loading.catch(() => catalogues.delete(lang)); // asked again next time
    catalogues.set(lang, loading);
  }
  return loading;
}

/**
 * Fetches and installs the catalogue of `lang` (same origin: frontend/i18n/<lang>.json), with English under
 * it for any key it lacks; English alone if `lang`'s cannot be had. Rejects only when neither can. `base` is
 * the way from the page to frontend/ ("../" from the console at /console/), kept for later switches.
 */
export async function loadMessages(lang = startLanguage(), base = "") {
  root = base;
  const [own, english] = await Promise.allSettled([catalogue(lang), catalogue(FALLBACK)]);
  if (own.status === "fulfilled") return useMessages(own.value, lang, english.value ?? null);
  if (english.status === "rejected") throw own.reason;
  console.warn(`i18n: ${own.reason?.message}; the page speaks English`);
  return useMessages(english.value, FALLBACK);
}

/** Installs a catalogue (loadMessages does; tests may too), with `base` (English) under it for keys it lacks. */
export function useMessages(catalogue, lang = FALLBACK, base = null) {
  messages = catalogue || {};
  fallback = lang === FALLBACK ? null : base;
  locale = lang;
  plurals = new Intl.PluralRules(locale);
  numbers = new Intl.NumberFormat(locale);
  document.documentElement.lang = locale;
}

/**
 * Speaks `lang` from now on: fetches its catalogue (rejecting, with nothing changed, if it cannot), lets every
 * part reword what it shows (onLanguageChange), and rewords index.html.
 */
export async function setLanguage(lang) {
  const [own, english] = await Promise.all([catalogue(lang), catalogue(FALLBACK).catch(() => null)]);
  useMessages(own, lang, english);
  for (const listener of listeners) listener(locale);
  translatePage();
}

/** Starts fetching the catalogue of `lang` (and English) before the page knows it will speak it. */
export function preloadMessages(lang) {
  for (const tag of new Set([lang, FALLBACK])) catalogue(tag).catch(() => {});
}

/** `listener(lang)` runs after each switch of language (setLanguage): it rewrites the words it wrote. */
export function onLanguageChange(listener) {
  listeners.push(listener);
}

/** Parameters every message sees (the alphabet's kind and title), merged under each call's own. */
export function setDefaults(params) {
  defaults = { ...defaults, ...params };
}

export const language = () => locale;

/** Whether the catalogue has a message for `key` (for words that may be left to what the server says). */
export const has = (key) => choose(lookup(messages, key), {}) !== null || choose(lookup(fallback, key), {}) !== null;

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

/** Looks a key up ("answer.headline.its") in a catalogue. */
function lookup(catalogue, key) {
  let node = catalogue;
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

/** A key the language's catalogue lacks: listed once (window.__i18nMissing), and said in the console. */
function report(key) {
  const entry = `${locale}:${key}`;
  if (missing.includes(entry)) return;
  missing.push(entry);
  console.warn(`i18n: no message for ${key} in ${locale}`);
}

/** The message for `key`: the language's own, else English's (reported), else the key itself (reported). */
function resolve(key, params) {
  const all = { ...defaults, ...params };
  const message = choose(lookup(messages, key), all);
  if (message !== null) return { text: message, all };
  report(key);
  return { text: choose(lookup(fallback, key), all) ?? key, all };
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
