// Two small SVG charts, drawn at the pixel width they are shown at (so text stays readable
// on a phone): a bar chart of counts, and a line chart of accuracy over learn steps.

import { number, percent, t } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function svgRoot(width, height, label) {
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label, class: "chart" });
  svg.append(el("title", {}, label));
  return svg;
}

/** "Nice" tick values covering [lo, hi]. */
function ticks(lo, hi, count = 5) {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

/** A count as a bar's label: whole up to 999, then compact ("1.2K"), so it fits over a narrow bar. */
const countText = (n) => (n < 1000 ? number(n) : number(n, { notation: "compact", maximumFractionDigits: 1 }));

const DENSE_SLOT = 21; // narrowest slot (px) for a bar with its glyph and count under and over it
const DENSE_ROW = 88; // height of one wrapped row of bars

/**
 * Bar chart of `counts` (one per label: the digits 0-9, or an alphabet's characters named by `labels`).
 * Up to 20 bars sit in one row; more (hiragana's 71) wrap into rows of bars at least DENSE_SLOT wide,
 * in fives where they can be (the kana table's rows), all to one scale: 15 a row on a phone (5 rows for 71).
 * @returns {SVGSVGElement}
 */
export function barChart(counts, { width = 520, height = 200, labels = null, lang = null } = {}) {
  const names = labels || counts.map((_, i) => String(i));
  const list = counts.map((c, i) => t("stats.count_item", { glyph: names[i], count: c })).join(t("common.list_separator"));
  const label = t("stats.counts_label", { list });
  if (counts.length > 20) return denseBarChart(counts, names, { width, label, lang });
  const svg = svgRoot(width, height, label);
  const pad = { top: 20, right: 8, bottom: 26, left: 8 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...counts);
  const slot = plotW / counts.length;
  const barW = Math.min(44, slot * 0.7);
  svg.append(el("line", { x1: pad.left, x2: width - pad.right, y1: pad.top + plotH, y2: pad.top + plotH, class: "axis" }));
  counts.forEach((count, digit) => {
    const h = (count / max) * plotH;
    const x = pad.left + slot * digit + (slot - barW) / 2;
    const y = pad.top + plotH - h;
    const group = el("g", { class: "bar" });
    group.append(el("rect", { x, y, width: barW, height: Math.max(h, count ? 2 : 0), rx: 4 }));
    group.append(el("text", { x: x + barW / 2, y: y - 6, "text-anchor": "middle", class: "value" }, countText(count)));
    group.append(glyphText(el("text", { x: x + barW / 2, y: height - 8, "text-anchor": "middle", class: "tick digit" }, names[digit]), lang));
    svg.append(group);
  });
  return svg;
}

function glyphText(node, lang) {
  if (lang) {
    node.setAttributeNS("http://www.w3.org/XML/1998/namespace", "xml:lang", lang);
    node.classList.add("glyph");
  }
  return node;
}

function denseBarChart(counts, names, { width, label, lang }) {
  const pad = { top: 4, right: 4, bottom: 4, left: 4 };
  const plotW = width - pad.left - pad.right;
  let perRow = Math.max(1, Math.floor(plotW / DENSE_SLOT));
  if (perRow >= 5) perRow -= perRow % 5;
  perRow = Math.min(perRow, counts.length);
  const rowCount = Math.ceil(counts.length / perRow);
  const height = pad.top + pad.bottom + rowCount * DENSE_ROW;
  const svg = svgRoot(width, height, label);
  svg.classList.add("dense");
  const slot = plotW / perRow;
  const barW = Math.min(28, slot * 0.72);
  const max = Math.max(1, ...counts);
  const valueH = 16; // room for the count over the tallest bar
  const tickH = 22; // room for the glyph under the axis
  const barH = DENSE_ROW - valueH - tickH - 8;
  for (let r = 0; r < rowCount; r++) {
    const top = pad.top + r * DENSE_ROW;
    const base = top + valueH + barH;
    const inRow = Math.min(perRow, counts.length - r * perRow);
    svg.append(el("line", { x1: pad.left, x2: pad.left + slot * inRow, y1: base, y2: base, class: "axis" }));
    for (let i = 0; i < inRow; i++) {
      const index = r * perRow + i;
      const count = counts[index];
      const h = (count / max) * barH;
      const x = pad.left + slot * i + (slot - barW) / 2;
      const group = el("g", { class: "bar" });
      group.append(el("title", {}, t("stats.count_item", { glyph: names[index], count })));
      group.append(el("rect", { x, y: base - h, width: barW, height: Math.max(h, count ? 2 : 0), rx: 3 }));
      group.append(el("text", { x: x + barW / 2, y: base - h - 4, "text-anchor": "middle", class: count ? "value" : "value zero" }, countText(count)));
      group.append(glyphText(el("text", { x: x + barW / 2, y: base + 17, "text-anchor": "middle", class: "tick digit" }, names[index]), lang));
      svg.append(group);
    }
  }
  return svg;
}

/** A share as the accuracy charts write it: "99.2%". */
export const accuracy = (p) => number(p, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });

/**
 * Line chart of accuracy over learn steps. The accuracy axis runs from 90% (lower if a point is lower) to 100%,
 * so that a dip of a few tenths of a point looks as small as it is.
 * @param {{x:number, y:number}[]} points   sorted by x
 * @param {{reference?:number|null, markers?:{x:number, label:string}[], name?:string, xMax?:number|null}} options
 *   xMax: stretch the x axis to here (the model's current step) even if the last point is earlier
 */
export function lineChart(points, { reference = null, markers = [], name = "", xMax = null, width = 520, height = 220 } = {}) {
  const label = t("stats.chart_label", {
    name,
    steps: t("stats.chart_steps", { count: points.length }),
    latest: points.length ? t("stats.chart_latest", { percent: accuracy(points[points.length - 1].y) }) : "",
    original: reference !== null ? t("stats.chart_original", { percent: accuracy(reference) }) : "",
    rollbacks: markers.length ? t("stats.chart_rollbacks", { count: markers.length }) : "",
  });
  const svg = svgRoot(width, height, label);
  const pad = { top: 14, right: 14, bottom: 40, left: 46 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;

  const ys = points.map((p) => p.y).concat(reference !== null ? [reference] : []);
  const lowest = ys.length ? Math.min(...ys) : 0.9;
  const yLo = Math.max(0, Math.min(0.9, Math.floor(lowest * 10 - 1e-9) / 10));
  const yHi = 1;
  const xs = points.map((p) => p.x).concat(markers.map((m) => m.x), Number.isFinite(xMax) ? [xMax] : []);
  const xLo = xs.length ? Math.min(...xs) : 0;
  let xHi = xs.length ? Math.max(...xs) : 1;
  if (xHi === xLo) xHi = xLo + 1;
  const sx = (x) => pad.left + ((x - xLo) / (xHi - xLo)) * plotW;
  const sy = (y) => pad.top + (1 - (y - yLo) / (yHi - yLo)) * plotH;

  // grid and axes
  for (const tick of ticks(yLo, yHi, 5)) {
    svg.append(el("line", { x1: pad.left, x2: width - pad.right, y1: sy(tick), y2: sy(tick), class: "grid" }));
    svg.append(el("text", { x: pad.left - 6, y: sy(tick) + 4, "text-anchor": "end", class: "tick y" }, percent(tick)));
  }
  const xTicks = ticks(xLo, xHi, Math.max(2, Math.floor(plotW / 70))).filter((tick) => Number.isInteger(tick));
  for (const tick of xTicks) {
    svg.append(el("text", { x: sx(tick), y: pad.top + plotH + 17, "text-anchor": "middle", class: "tick x" }, number(tick)));
  }
  svg.append(el("text", { x: pad.left + plotW / 2, y: height - 3, "text-anchor": "middle", class: "tick axis-label" }, t("stats.axis_steps")));
  svg.append(el("line", { x1: pad.left, x2: width - pad.right, y1: pad.top + plotH, y2: pad.top + plotH, class: "axis" }));

  if (reference !== null) {
    svg.append(el("line", { x1: pad.left, x2: width - pad.right, y1: sy(reference), y2: sy(reference), class: "reference" }));
    svg.append(el("text", { x: width - pad.right - 2, y: sy(reference) + 14, "text-anchor": "end", class: "reference-label" }, t("stats.reference")));
  }

  for (const marker of markers) {
    const x = sx(marker.x);
    const group = el("g", { class: "rollback" });
    group.append(el("title", {}, marker.label));
    group.append(el("line", { x1: x, x2: x, y1: pad.top, y2: pad.top + plotH }));
    group.append(el("path", { d: `M${x - 5},${pad.top} L${x + 5},${pad.top} L${x},${pad.top + 8} Z` }));
    svg.append(group);
  }

  if (points.length) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
    svg.append(el("path", { d, class: "series" }));
    const last = points[points.length - 1];
    const dotsEvery = points.length > 60 ? Infinity : 1;
    points.forEach((p, i) => {
      if (i % dotsEvery === 0 || p === last) {
        const dot = el("circle", { cx: sx(p.x), cy: sy(p.y), r: p === last ? 4 : 2.5, class: p === last ? "dot last" : "dot" });
        dot.append(el("title", {}, t("stats.point", { step: p.x, percent: number(p.y, { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 }) })));
        svg.append(dot);
      }
    });
  }
  return svg;
}
