// The alphabet on the page: the grids of glyph buttons (the picker's and teach mode's), the arrow keys
// of a grid of radios, and the words that name what is drawn ("digit", or "character" for another alphabet).

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

/** Words of the page that name what is drawn: left as they are for the digits. */
export function applyAlphabetWords(alphabet) {
  if (alphabet.isDigits) return;
  const noun = alphabet.noun;
  document.title = `Inkling — draw a ${noun}, watch it learn`;
  document.querySelector('meta[name="description"]')
    ?.setAttribute("content", `Draw a ${noun} (${alphabet.title}). Four small neural networks guess it, and learn from your corrections.`);
  for (const node of document.querySelectorAll("[data-other]")) node.textContent = node.dataset.other.replace("{noun}", noun);
  for (const node of document.querySelectorAll("[data-other-label]")) {
    node.setAttribute("aria-label", node.dataset.otherLabel.replace("{noun}", noun).replace("{title}", alphabet.title));
  }
  const title = document.querySelector('[data-testid="alphabet-title"]');
  if (title) {
    title.textContent = alphabet.title;
    title.hidden = false;
  }
  document.documentElement.dataset.alphabet = alphabet.name;
}
