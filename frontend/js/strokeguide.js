// How a glyph is written, for alphabets whose file has "strokes" (KanjiVG's): each stroke drawn in turn and
// numbered where it starts. The CSS draws them one after another (at once under prefers-reduced-motion).

import { glyphNode } from "./glyphs.js";
import { t, tn } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";

function node(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text) element.textContent = text;
  return element;
}

/** Shows in `figure` how `label` is written (drawn afresh), or hides it: no label picked, or no strokes known. */
export function showStrokeGuide(figure, alphabet, label) {
  const guide = alphabet.strokes;
  const paths = guide && label !== null ? guide.paths[label] : null;
  figure.hidden = !paths;
  if (!paths) return;
  const glyph = alphabet.glyph(label);
  const svg = figure.querySelector("svg");
  svg.setAttribute("viewBox", `-6 -6 ${guide.box + 12} ${guide.box + 12}`); // room for the numbers at the edges
  svg.setAttribute("aria-label", t("teach.guide_label", { glyph, count: paths.length }));
  const ghosts = paths.map((d) => node("path", { d, class: "ghost" }));
  const drawn = paths.map((d, i) => {
    const path = node("path", { d, class: "drawn", pathLength: "1" });
    path.style.setProperty("--i", String(i));
    return path;
  });
  const numbers = paths.map((d, i) => {
    const [, x, y] = d.match(/^[Mm]\s*(-?[\d.]+)[\s,]*(-?[\d.]+)/) || [];
    return node("text", { x: String(Number(x) - 3), y: String(Number(y) - 3), class: "number" }, String(i + 1));
  });
  svg.replaceChildren(...ghosts, ...drawn, ...numbers);
  const words = figure.querySelector("[data-role=stroke-guide-words]");
  words.replaceChildren(...tn("teach.guide_words", { glyph: glyphNode(alphabet, label), count: paths.length }));
}
