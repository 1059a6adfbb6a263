// Talking to the Inkling service (same origin). Every failure becomes an ApiError
// carrying a message a person can act on, in the page's language: the catalogue's words for the error's
// `code` (errors.code.<code>), else (on a page in English) the server's own `detail`, else the page's words
// for what failed (errors.http_<status>): a page in another language never shows the server's English.

import { has, language, t } from "./i18n.js";
import { writerId } from "./writer.js";

export class ApiError extends Error {
  /**
   * @param {string|null} detail  what the server said (its `detail`), or null: the page says it from `key`
   * @param {object} info          status (0 for network), code, retryAfter (seconds or null), retryable,
   *                               key: the message catalogue's words for it (api's own, or by HTTP status), and
   *                               action: what was asked ("save", "forget", "predict"), for words that depend on it
   */
  constructor(detail, { status = 0, code = "network", retryAfter = null, retryable = true, key = "errors.unreachable", action = null } = {}) {
    super();
    this.name = "ApiError";
    this.detail = detail;
    this.key = key;
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.retryable = retryable;
    this.action = action;
  }

  /**
   * What to show the person, worded when asked (in the page's language at that moment): the catalogue's words
   * for the server's code, else the server's own words if the page speaks English (they are English), else the
   * page's words for what failed.
   */
  get message() {
    const coded = `errors.code.${this.code}`;
    if (has(coded)) return t(coded, { action: this.action ?? "other" });
    return (language() === "en" && this.detail) || t(this.key);
  }
}

const WORDED = [400, 404, 413, 422, 429, 500, 503]; // statuses the catalogue has words for (errors.http_<status>)

function parseRetryAfter(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

async function toApiError(response, action) {
  let detail = null;
  let code = `http_${response.status}`;
  try {
    const body = await response.json();
    if (typeof body?.detail === "string") detail = body.detail;
    else if (Array.isArray(body?.detail) && body.detail[0]?.msg) detail = body.detail[0].msg; // FastAPI validation
    if (typeof body?.code === "string") code = body.code;
  } catch {
    /* not JSON: fall back to a generic message */
  }
  const status = response.status;
  const key = `errors.http_${WORDED.includes(status) ? status : status >= 500 ? 500 : 400}`;
  // A bad request stays bad however often it is sent; only load, storage and server trouble pass.
  const retryable = status === 408 || status === 429 || status >= 500;
  return new ApiError(detail, { status, code, key, action, retryAfter: parseRetryAfter(response.headers.get("Retry-After")), retryable });
}

/**
 * fetch JSON; resolves with the parsed body or rejects with ApiError (AbortError passes through). `action`
 * names what is asked, for an error's words ("save": "...so your drawing was not saved").
 */
export async function requestJSON(path, { method = "GET", body, signal, headers = {}, keepalive = false, action = null } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      keepalive,
      headers: { Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError(null, { key: "errors.unreachable", action });
  }
  if (!response.ok) throw await toApiError(response, action);
  try {
    return await response.json();
  } catch {
    throw new ApiError(null, { status: response.status, code: "bad_response", key: "errors.unreadable", action });
  }
}

const me = () => ({ "Inkling-Writer": writerId() });

export const api = {
  config: () => requestJSON("api/config"),
  predict: (image, signal) => requestJSON("api/predict", { method: "POST", body: { image, writer: writerId() }, signal, action: "predict" }),
  activations: (image, signal) => requestJSON("api/activations", { method: "POST", body: { image, writer: writerId() }, signal, action: "predict" }),
  /** Stores a drawing with its label, and its pen strokes (pad.toStrokes(); left out when null). */
  saveDrawing: (image, label, train, strokes = null) =>
    requestJSON("api/drawings", {
      method: "POST", body: { image, label, train, writer: writerId(), ...(strokes ? { strokes } : {}) }, action: "save",
    }),
  /** Reads the number on the pad (POST /api/read): its PNG and, when there are any, its strokes. */
  read: (image, strokes, signal) =>
    requestJSON("api/read", { method: "POST", body: { image, writer: writerId(), ...(strokes ? { strokes } : {}) }, signal, action: "predict" }),
  /** Saves a number as corrected (POST /api/numbers): each character {label} or {symbol}, with its strokes or box. */
  saveNumber: (image, strokes, characters, train) =>
    requestJSON("api/numbers", { method: "POST", body: { image, characters, train, writer: writerId(), ...(strokes ? { strokes } : {}) }, action: "save" }),
  /** What the service remembers of this writer's handwriting: {drawings, counts, capacity, trust}. */
  me: () => requestJSON("api/me", { headers: me() }),
  /** Delete this writer's memory (and the links to their drawings); the page then takes a new id. */
  forgetMe: ({ keepalive = false } = {}) => requestJSON("api/me", { method: "DELETE", headers: me(), keepalive, action: "forget" }),
  /** One stored drawing and, per online model, the version that learned it (null while queued). */
  drawing: (id) => requestJSON(`api/drawings/${encodeURIComponent(id)}`),
  stats: () => requestJSON("api/stats"),
  drawings: ({ label = null, limit = 24, cursor = null } = {}) => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (label !== null && label !== "") query.set("label", String(label));
    if (cursor) query.set("cursor", cursor);
    return requestJSON(`api/drawings?${query}`);
  },
  /** png_url as the server gave it ("/api/drawings/<id>.png"), made relative to the page. */
  pngUrl: (item) => (item.png_url || `/api/drawings/${encodeURIComponent(item.id)}.png`).replace(/^\//, ""),
};
