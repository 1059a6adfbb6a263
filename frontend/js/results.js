// The "Draw" panel's read-outs: the big answer, four model cards with their top-3,
// the 28x28 image the models saw, and what changed after a drawing was saved.

const ONLINE_SUFFIX = "_online";
const DIGIT_GLYPHS = "0123456789";

/**
 * The deployment's alphabet, from GET /api/config: its labels and glyphs, the picker's rows, and the
 * words the page uses for them. For the digits every text stays as it always was ("It's a 5!");
 * for another alphabet a drawing is a "character" and is named by its glyph ("It's あ!").
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
    title: info.title || (isDigits ? "Digits" : "Characters"),
    labels,
    isDigits,
    rows,
    columns: rows ? Math.max(...rows.map((row) => row.length)) : null,
    lang: isDigits ? null : info.lang || null, // the alphabet file says (hiragana: "ja")
    strokes: info.strokes?.paths?.length === labels.length ? info.strokes : null, // how each glyph is written
    noun: isDigits ? "digit" : "character",
    /** The glyph of class `label` (the label itself if the config does not know it). */
    glyph(label) {
      return glyphs.get(Number(label)) ?? String(label);
    },
    /** `label` as a sentence names it: "a 5" for the digits, "あ" otherwise. */
    named(label) {
      return isDigits ? `a ${label}` : this.glyph(label);
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
  return h("span", { lang: alphabet.lang, ...props, class: ["glyph", props.class].filter(Boolean).join(" "), text: glyph });
}

export function percent(p) {
  if (!Number.isFinite(p)) return "–";
  if (p > 0 && p < 0.005) return "<1%";
  return `${Math.round(p * 100)}%`;
}

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** An ordered list of guesses drawn as labelled bars; `data-digit` is each guess's label index. */
export function guessList(guesses, { highlight = null, compact = false, alphabet = alphabetOf() } = {}) {
  const list = h("ol", { class: compact ? "top3 compact" : "top3" });
  for (const guess of guesses || []) {
    const label = labelOf(guess);
    const glyph = guess.glyph ?? alphabet.glyph(label);
    const p = guess.p;
    const item = h(
      "li",
      { class: `guess${label === highlight ? " hit" : ""}`, dataset: { digit: String(label) }, "aria-label": `${glyph}: ${percent(p)}` },
      h("span", { class: "g-digit", lang: alphabet.lang, "aria-hidden": "true", text: glyph }),
      h("span", { class: "g-bar", "aria-hidden": "true" }, h("span", { class: "g-fill", style: `width:${Math.max(0, Math.min(1, p)) * 100}%` })),
      h("span", { class: "g-p", "aria-hidden": "true", text: percent(p) }),
    );
    list.append(item);
  }
  return list;
}

function placeholderList() {
  const list = h("ol", { class: "top3 empty", "aria-label": "No guesses yet" });
  for (let i = 0; i < 3; i++) {
    list.append(
      h("li", { class: "placeholder", "aria-hidden": "true" },
        h("span", { class: "g-digit", text: "·" }),
        h("span", { class: "g-bar" }),
        h("span", { class: "g-p", text: "" })),
    );
  }
  return list;
}

export class Results {
  /**
   * @param {object} config  GET /api/config
   * @param {object} els     answer, cards, input28, learned elements
   */
  constructor(config, els) {
    this.config = config;
    this.alphabet = alphabetOf(config);
    this.els = els;
    this.cards = new Map();
    const titles = config.titles || {};
    for (const name of config.models) {
      const title = titles[name] || name;
      const version = h("span", { class: "version", title: "weight version" });
      const body = h("div", { class: "card-body" }, placeholderList());
      const card = h(
        "article",
        { class: `model-card ${name.endsWith(ONLINE_SUFFIX) ? "online" : "original"}`, "data-testid": `model-${name}`, "aria-label": title },
        h("header", {}, h("h3", { text: title }), version),
        body,
      );
      els.cards.append(card);
      this.cards.set(name, { card, body, version, title });
    }
    this.ctx28 = els.input28.getContext("2d");
    this.showEmpty();
  }

  title(name) {
    return this.config.titles?.[name] || name;
  }

  setBusy(busy) {
    this.els.answer.classList.toggle("busy", busy);
    this.els.answer.setAttribute("aria-busy", busy ? "true" : "false");
  }

  /** `headline` is a string, or an array of strings and nodes (a glyph in its own language). */
  #answer(big, headline, sub, state, label = null) {
    const { answer } = this.els;
    answer.dataset.state = state;
    if (this.els.panel) this.els.panel.dataset.state = state;
    if (label === null) delete answer.dataset.digit;
    else answer.dataset.digit = String(label);
    const lang = label === null ? null : this.alphabet.lang;
    answer.replaceChildren(
      h("div", { class: "answer-digit", lang, "aria-hidden": "true", text: big }),
      h("div", { class: "answer-text" },
        h("p", { class: "headline" }, ...(Array.isArray(headline) ? headline : [headline])),
        sub ? h("p", { class: "sub", text: sub }) : null),
    );
  }

  /** "It's " + a glyph + "!" as nodes: for the digits "It's a 5!", else "It's あ!" with あ in its language. */
  #say(before, label, after) {
    const a = this.alphabet;
    return a.isDigits ? [`${before}${a.named(label)}${after}`] : [before, glyphNode(a, label), after];
  }

  showEmpty(message = `Draw a ${this.alphabet.noun} — I'll guess as you go.`) {
    this.#answer("✎", message, "Use your mouse, finger or pen. Lift it and I'll have a look.", "empty");
    for (const { body, version } of this.cards.values()) {
      body.replaceChildren(placeholderList());
      version.textContent = "";
    }
    this.ctx28.fillStyle = "#000";
    this.ctx28.fillRect(0, 0, 28, 28);
    this.els.input28.classList.add("blank");
  }

  showThanks(message, sub = "Nothing was saved. Draw another one whenever you like.") {
    this.showEmpty();
    this.#answer("♡", message, sub, "thanks");
  }

  /** Render a POST /api/predict response. */
  showPrediction(response) {
    const { answer } = response;
    const total = this.config.models.length;
    const label = labelOf(answer);
    if (label !== null) {
      const parts = [];
      if (Number.isFinite(answer.agree)) parts.push(`${answer.agree} of ${total} models agree`);
      if (Number.isFinite(answer.p)) parts.push(`${percent(answer.p)} sure`);
      if (answer.personalised_by > 0) parts.push("personalised for you");
      const glyph = answer.glyph ?? this.alphabet.glyph(label);
      this.#answer(glyph, this.#say("It's ", label, "!"), parts.join(" · "), "answer", label);
    } else {
      this.#answer("?", `I can't tell — is that a ${this.alphabet.noun}?`, answer?.reason || "", "unsure");
    }
    const versions = response.versions || {};
    for (const [name, { body, version }] of this.cards) {
      const guesses = response.models?.[name];
      body.replaceChildren(guesses ? guessList(guesses, { highlight: label, alphabet: this.alphabet }) : h("p", { class: "muted", text: "No answer from this model." }));
      version.textContent = versions[name] !== undefined ? `v${versions[name]}` : "";
    }
    this.drawInput28(response.input28);
  }

  /** The 28x28 image the models saw, as they see it: ink bright on black, like MNIST. */
  drawInput28(rows) {
    if (!Array.isArray(rows) || rows.length === 0) return;
    const size = rows.length;
    const image = this.ctx28.createImageData(size, size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = Math.round(Math.max(0, Math.min(1, rows[y][x] ?? 0)) * 255);
        const i = (y * size + x) * 4;
        image.data[i] = image.data[i + 1] = image.data[i + 2] = v;
        image.data[i + 3] = 255;
      }
    }
    if (this.els.input28.width !== size) this.els.input28.width = this.els.input28.height = size;
    this.ctx28.putImageData(image, 0, 0);
    this.els.input28.classList.remove("blank");
  }

  /**
   * After POST /api/drawings: show the saved drawing, the version bump of each online model,
   * and its top-3 for the same drawing before -> after.
   */
  showLearned({ label, image, response, before, train }) {
    const { learned } = this.els;
    const beforeVersions = before?.versions || {};
    const afterModels = response.after?.models || {};
    const beforeModels = before?.models || {};
    const onlineNames = this.config.models.filter((n) => n.endsWith(ONLINE_SUFFIX));
    const rows = [];
    if (response.trained) {
      for (const name of onlineNames) {
        const from = beforeVersions[name];
        const to = response.versions?.[name];
        const versionText = from !== undefined && to !== undefined ? `v${from} → v${to}` : to !== undefined ? `now v${to}` : "";
        rows.push(
          h("div", { class: "learn-row", "data-testid": `learned-${name}` },
            h("p", { class: "learn-title" }, h("strong", { text: this.title(name) }), " ", h("span", { class: "version-change", text: versionText })),
            h("div", { class: "before-after" },
              h("div", { class: "ba before" }, h("span", { class: "ba-label", text: "before" }),
                beforeModels[name] ? guessList(beforeModels[name], { highlight: label, compact: true, alphabet: this.alphabet }) : h("p", { class: "muted", text: "—" })),
              h("span", { class: "ba-arrow", "aria-hidden": "true", text: "→" }),
              h("div", { class: "ba after" }, h("span", { class: "ba-label", text: "after" }),
                afterModels[name] ? guessList(afterModels[name], { highlight: label, compact: true, alphabet: this.alphabet }) : h("p", { class: "muted", text: "—" })),
            )),
        );
      }
    }
    let note;
    if (response.trained) note = "The online models just took a learning step on it. Here is how they see it now:";
    else if (!train) note = "Stored without training, as you asked. The models are unchanged.";
    else if (response.queued) note = "Learning… many people are teaching right now; this updates when the models have learned it.";
    else note = response.detail || "Stored. The models did not train on it this time.";
    const a = this.alphabet;
    const glyph = a.glyph(label);
    const named = (text) => (a.isDigits ? [`${text}${glyph}`] : [text, glyphNode(a, label)]);
    learned.replaceChildren(
      h("div", { class: "learn-head" },
        h("img", { class: "thumb", src: image, alt: `Your drawing, saved as ${glyph}`, width: 56, height: 56 }),
        h("div", {},
          h("p", { class: "learn-headline" }, ...named(response.trained ? "Learned from your " : "Stored your ")),
          h("p", { class: "learn-note", text: note, ...(response.queued && train ? { "data-testid": "learning" } : {}) }))),
      ...rows,
    );
    learned.hidden = false;
    this.#answer("✓", [...named("Saved as "), " — thank you!"], `Draw another ${a.noun} to keep going.`, "saved", null);
  }

  hideLearned() {
    this.els.learned.hidden = true;
    this.els.learned.replaceChildren();
  }
}
