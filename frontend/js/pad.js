// The drawing pad: a canvas whose bitmap is always the spec's size (spec.size px square for a single drawing,
// spec.width x spec.height for the number pad), whatever its CSS size.
// Strokes are kept as a list of point lists ([x, y, t]: bitmap pixels and the pointer event's time), so Undo
// is "drop the last, redraw", and what is sent with a save (toStrokes) is always what is drawn.
// Rendering follows the canvas spec from GET /api/config exactly, because the server's stroke
// renderer uses the same numbers: background fill, round caps and joins, one line width, one ink.

import { canvasPNG } from "./png.js";

// What the service takes with a drawing (models/strokes.py): at most this many strokes and points.
export const MAX_STROKES = 64;
export const MAX_POINTS = 4096;

export class DrawingPad extends EventTarget {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{size?:number, width?:number, height?:number, line_width:number, ink:string, background:string,
   *   line_cap?:string, line_join?:string}} spec  a square's `size`, or `width` and `height`
   */
  constructor(canvas, spec) {
    super();
    this.canvas = canvas;
    this.spec = spec;
    this.strokes = [];
    this.current = null; // the stroke being drawn, also the last entry of this.strokes
    this.pointerId = null;
    this.frame = 0;
    this.enabled = true;
    this.revision = 0; // counts redraws: the PNG of a revision is made once, whoever asks for it
    this.encoded = null; // {revision, png: Promise<string>}: the newest revision's PNG, once asked for
    this.width = spec.width ?? spec.size;
    this.height = spec.height ?? spec.size;
    canvas.width = this.width;
    canvas.height = this.height;
    this.ctx = canvas.getContext("2d", { willReadFrequently: false });
    this.redraw();
    this.#counted();

    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    canvas.addEventListener("pointerup", (e) => this.#up(e));
    canvas.addEventListener("pointercancel", (e) => this.#up(e));
    canvas.addEventListener("lostpointercapture", (e) => this.#up(e));
    // No long-press menu or selection while drawing with a finger or pen.
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  get isEmpty() {
    return this.strokes.length === 0;
  }

  get isDrawing() {
    return this.current !== null;
  }

  /** Bitmap coordinates of a pointer event, scaled from the canvas's on-screen box, and its time (ms). */
  #point(e) {
    const rect = this.canvas.getBoundingClientRect();
    const scaleX = this.width / rect.width;
    const scaleY = this.height / rect.height;
    const clamp = (v, most) => Math.min(most, Math.max(0, v));
    return [clamp((e.clientX - rect.left) * scaleX, this.width), clamp((e.clientY - rect.top) * scaleY, this.height), e.timeStamp];
  }

  #down(e) {
    if (!this.enabled || this.pointerId !== null) return; // one pen at a time: a second finger is ignored
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    this.pointerId = e.pointerId;
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      /* synthetic events may have no active pointer to capture */
    }
    this.current = [this.#point(e)];
    this.strokes.push(this.current);
    this.#counted();
    this.dispatchEvent(new Event("strokestart"));
    this.#schedule();
  }

  #move(e) {
    if (e.pointerId !== this.pointerId || !this.current) return;
    e.preventDefault();
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const point = this.#point(ev);
      const [px, py] = this.current[this.current.length - 1];
      if (Math.abs(point[0] - px) + Math.abs(point[1] - py) >= 0.5) this.current.push(point);
    }
    this.#schedule();
  }

  #up(e) {
    if (e.pointerId !== this.pointerId) return;
    this.pointerId = null;
    if (!this.current) return;
    this.current = null;
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.redraw(); // the final bitmap is drawn synchronously, before anyone reads it
    this.dispatchEvent(new Event("strokeend"));
  }

  #schedule() {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.redraw();
      });
    }
  }

  /** The canvas says how many strokes it holds (data-strokes), for whoever reads the page's DOM: the browser tests. */
  #counted() {
    this.canvas.dataset.strokes = String(this.strokes.length);
  }

  redraw() {
    const { ctx, spec } = this;
    this.revision++;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalCompositeOperation = "source-over";
    ctx.fillStyle = spec.background;
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.strokeStyle = spec.ink;
    ctx.fillStyle = spec.ink;
    ctx.lineWidth = spec.line_width;
    ctx.lineCap = spec.line_cap || "round";
    ctx.lineJoin = spec.line_join || "round";
    for (const stroke of this.strokes) {
      if (stroke.length === 1) {
        // A tap: a dot as wide as the pen (a zero-length path draws nothing on some browsers).
        const [x, y] = stroke[0];
        ctx.beginPath();
        ctx.arc(x, y, spec.line_width / 2, 0, Math.PI * 2);
        ctx.fill();
      } else {
        ctx.beginPath();
        ctx.moveTo(stroke[0][0], stroke[0][1]);
        for (let i = 1; i < stroke.length; i++) ctx.lineTo(stroke[i][0], stroke[i][1]);
        ctx.stroke();
      }
    }
    ctx.restore();
  }

  clear() {
    this.strokes = [];
    this.current = null;
    this.pointerId = null;
    this.#counted();
    this.redraw();
    this.dispatchEvent(new Event("change"));
  }

  undo() {
    if (this.isDrawing || this.strokes.length === 0) return false;
    this.strokes.pop();
    this.#counted();
    this.redraw();
    this.dispatchEvent(new Event("change"));
    return true;
  }

  /**
   * The strokes now on the pad as the service keeps them (Quick, Draw!'s raw format): per stroke
   * [[x...], [y...], [t...]], canvas pixels (to 0.01) and whole milliseconds since the drawing's first point.
   * Long strokes are thinned (Ramer-Douglas-Peucker, the least tolerance that fits) to MAX_POINTS in all;
   * null for an empty pad or one of more than MAX_STROKES strokes (the PNG is saved without them).
   */
  toStrokes() {
    const strokes = this.strokes.filter((stroke) => stroke.length);
    if (!strokes.length || strokes.length > MAX_STROKES) return null;
    let kept = strokes;
    for (let tolerance = 0.25; kept.reduce((n, s) => n + s.length, 0) > MAX_POINTS; tolerance *= 2) {
      kept = strokes.map((stroke) => thin(stroke, tolerance));
    }
    const t0 = kept[0][0][2];
    let last = 0;
    const round = (v) => Math.round(v * 100) / 100;
    return kept.map((stroke) => {
      const xs = [], ys = [], ts = [];
      for (const [x, y, t] of stroke) {
        last = Math.max(last, Math.round((Number.isFinite(t) ? t : t0) - t0)); // time never goes back
        xs.push(round(x));
        ys.push(round(y));
        ts.push(last);
      }
      return [xs, ys, ts];
    });
  }

  /** Promise of the drawing now on the pad as the PNG data URL the API takes (png.js), made once a revision. */
  toPNG() {
    if (this.encoded?.revision !== this.revision) this.encoded = { revision: this.revision, png: canvasPNG(this.canvas) };
    return this.encoded.png;
  }
}

/** The points of `stroke` that keep its shape to within `tolerance` px (Ramer-Douglas-Peucker; ends kept). */
function thin(stroke, tolerance) {
  if (stroke.length <= 2) return stroke;
  const keep = new Uint8Array(stroke.length);
  keep[0] = keep[stroke.length - 1] = 1;
  const spans = [[0, stroke.length - 1]];
  while (spans.length) {
    const [a, b] = spans.pop();
    const [ax, ay] = stroke[a];
    const [bx, by] = stroke[b];
    const dx = bx - ax, dy = by - ay;
    const length = Math.hypot(dx, dy);
    let far = -1, farthest = tolerance;
    for (let i = a + 1; i < b; i++) {
      const [x, y] = stroke[i];
      const d = length ? Math.abs(dy * (x - ax) - dx * (y - ay)) / length : Math.hypot(x - ax, y - ay);
      if (d > farthest) [far, farthest] = [i, d];
    }
    if (far >= 0) {
      keep[far] = 1;
      spans.push([a, far], [far, b]);
    }
  }
  return stroke.filter((_, i) => keep[i]);
}
