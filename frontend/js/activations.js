// "Inside the CNN": every feature map of conv1, pool1, conv2 and pool2 as a small greyscale
// image (bright = strongly active). The server sends each layer as base64 of uint8 C*H*W,
// channel-major: map k is bytes k*H*W .. (k+1)*H*W, row-major.

import { t } from "./i18n.js";

const LAYERS_WORDED = ["conv1", "pool1", "conv2", "pool2"]; // the catalogue's activations.legend.<layer>

/** What a layer's maps show, in words ("" for a layer the catalogue does not know). */
export const legend = (name) => (LAYERS_WORDED.includes(name) ? t(`activations.legend.${name}`) : "");

// The server scales each layer by its largest activation, which leaves most maps of the deeper
// layers nearly black. A square-root tone curve (monotonic, 0 stays 0, 255 stays 255) lets
// weaker activity show without changing which map or pixel is the strongest.
const TONE = Uint8Array.from({ length: 256 }, (_, v) => Math.round(Math.sqrt(v / 255) * 255));

export function decodeBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export class ActivationsView {
  /** @param {HTMLElement} container  where the layer figures go */
  constructor(container) {
    this.container = container;
    this.layers = new Map(); // name -> {figure, canvases, shape}
    this.shown = null; // the response on show
  }

  /** The page speaks another language: the layers' words, said again in it (the maps drawn afresh). */
  reword() {
    const shown = this.shown;
    this.clear();
    if (shown) this.render(shown);
  }

  #layerFigure(name, shape) {
    const [channels, h, w] = shape;
    const figure = document.createElement("figure");
    figure.className = `layer layer-${name}`;
    figure.dataset.layer = name;
    const caption = document.createElement("figcaption");
    const title = document.createElement("strong");
    title.textContent = name;
    const dims = document.createElement("span");
    dims.className = "shape";
    dims.textContent = t("activations.shape", { channels, h, w });
    const words = legend(name);
    const legendNode = document.createElement("span");
    legendNode.className = "legend";
    legendNode.textContent = words;
    caption.append(title, dims, legendNode);
    const grid = document.createElement("div");
    grid.className = "maps";
    grid.style.setProperty("--columns", String(channels <= 32 ? 8 : 16)); // whole rows: 32 = 4x8, 64 = 4x16
    const canvases = [];
    for (let k = 0; k < channels; k++) {
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      canvas.className = "map";
      canvas.title = t("activations.map", { name, k: k + 1 });
      canvas.setAttribute("aria-hidden", "true");
      grid.append(canvas);
      canvases.push(canvas);
    }
    // A figure is a figure (role "group" is not allowed on it); its label says what the maps are.
    figure.setAttribute("aria-label", t("activations.figure", { name, channels, h, w, legend: words }));
    figure.append(caption, grid);
    return { figure, canvases, shape: shape.join("x") };
  }

  /** Draw a response of POST /api/activations. */
  render(response) {
    this.shown = response;
    const seen = new Set();
    for (const layer of response.layers || []) {
      const [channels, h, w] = layer.shape;
      let entry = this.layers.get(layer.name);
      if (!entry || entry.shape !== layer.shape.join("x")) {
        entry?.figure.remove();
        entry = this.#layerFigure(layer.name, layer.shape);
        this.layers.set(layer.name, entry);
      }
      this.container.append(entry.figure); // keeps the server's layer order
      seen.add(layer.name);
      const bytes = decodeBase64(layer.data);
      const size = h * w;
      for (let k = 0; k < channels; k++) {
        const canvas = entry.canvases[k];
        const ctx = canvas.getContext("2d");
        const image = ctx.createImageData(w, h);
        const px = image.data;
        const offset = k * size;
        for (let i = 0; i < size; i++) {
          const v = TONE[bytes[offset + i] ?? 0];
          px[i * 4] = v;
          px[i * 4 + 1] = v;
          px[i * 4 + 2] = v;
          px[i * 4 + 3] = 255;
        }
        ctx.putImageData(image, 0, 0);
      }
    }
    for (const [name, entry] of this.layers) {
      if (!seen.has(name)) {
        entry.figure.remove();
        this.layers.delete(name);
      }
    }
  }

  clear() {
    this.shown = null;
    for (const entry of this.layers.values()) entry.figure.remove();
    this.layers.clear();
  }
}
