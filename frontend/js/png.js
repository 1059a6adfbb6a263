// The drawing as the API takes it: a PNG, but one 8-bit gray channel instead of the canvas's RGBA.
//
// Why: a canvas's own PNG (toDataURL) carries four channels of which the recogniser reads one.
// Inflating and unfiltering the other three was the largest single cost of a prediction on the
// server (decoding it and finding the ink: 0.85 of ~2.8 ms CPU; scripts/bench.py prints the stages). The gray PNG of the same
// drawing reads in a third of the time, is ~45% smaller on the wire, and gives the server
// exactly the pixels it would have made from the RGBA one (the same integer luma as Pillow's
// "L", tests/test_browser.py checks it). Rows are left unfiltered ("None"): on a drawing that is
// mostly background, zlib does as well without the filters, and unfiltered rows cost the server
// nothing to undo.
//
// The deflate is the browser's own (CompressionStream, in every browser since 2023). Where it is
// missing, or the canvas is not opaque (gray has no alpha), the canvas's own PNG is sent instead:
// the server reads both.

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, CRC of type and data. */
function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * The PNG scanlines of an opaque RGBA image as 8-bit gray, each behind its filter byte (0: None),
 * or null when a pixel is not fully opaque. Luma as Pillow's RGB -> "L": (R 19595 + G 38470 +
 * B 7471 + 2^15) >> 16, so the server sees the same levels either way.
 */
function grayScanlines({ width, height, data }) {
  const rows = new Uint8Array(height * (width + 1));
  for (let y = 0, i = 0, o = 0; y < height; y++) {
    rows[o++] = 0;
    for (let x = 0; x < width; x++, i += 4) {
      if (data[i + 3] !== 255) return null;
      rows[o++] = (data[i] * 19595 + data[i + 1] * 38470 + data[i + 2] * 7471 + 0x8000) >>> 16;
    }
  }
  return rows;
}

async function zlibDeflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function dataURL(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `data:image/png;base64,${btoa(text)}`;
}

/** The gray PNG of an opaque ImageData, as a data URL; null when it is not opaque. */
export async function grayPNG(imageData) {
  const rows = grayScanlines(imageData);
  if (!rows) return null;
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, imageData.width);
  view.setUint32(4, imageData.height);
  header.set([8, 0, 0, 0, 0], 8); // 8 bits, gray, deflate, no filters beyond the per-row byte, not interlaced
  const parts = [Uint8Array.from(SIGNATURE), chunk("IHDR", header), chunk("IDAT", await zlibDeflate(rows)), chunk("IEND", new Uint8Array(0))];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (png.set(p, at), at + p.length), 0);
  return dataURL(png);
}

/** The canvas as the PNG data URL to send: gray where it can be, the canvas's own PNG otherwise. Never rejects.
 * Either way it is the pixels as they were at the call: a stroke drawn while this encodes is not in it. */
export async function canvasPNG(canvas) {
  if (typeof CompressionStream !== "function") return canvas.toDataURL("image/png");
  let pixels;
  try {
    pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    const gray = await grayPNG(pixels);
    if (gray) return gray;
  } catch {
    /* fall through to the canvas's own encoder */
  }
  if (!pixels) return canvas.toDataURL("image/png");
  const copy = document.createElement("canvas"); // the pixels read, not the canvas now
  [copy.width, copy.height] = [pixels.width, pixels.height];
  copy.getContext("2d").putImageData(pixels, 0, 0);
  return copy.toDataURL("image/png");
}
