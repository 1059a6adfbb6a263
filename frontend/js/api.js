// Talking to the Inkling service (same origin). Every failure becomes an ApiError
// carrying a message a person can act on: the server's own `detail` when it sent one.

import { writerId } from "./writer.js";

export class ApiError extends Error {
  /**
   * @param {string} message   what to show the person
   * @param {object} info      status (0 for network), code, retryAfter (seconds or null), retryable
   */
  constructor(message, { status = 0, code = "network", retryAfter = null, retryable = true } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.retryable = retryable;
  }
}

const FALLBACK = {
  400: "The request was not understood.",
  404: "Not found.",
  413: "That drawing is too large to send.",
  422: "That image could not be read. Draw it again and try once more.",
  429: "Too many requests right now.",
  500: "Something went wrong on the server.",
  503: "The service is busy or its storage is unavailable.",
};

function parseRetryAfter(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

async function toApiError(response) {
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
  const message = detail || FALLBACK[status] || FALLBACK[status >= 500 ? 500 : 400];
  // A bad request stays bad however often it is sent; only load, storage and server trouble pass.
  const retryable = status === 408 || status === 429 || status >= 500;
  return new ApiError(message, { status, code, retryAfter: parseRetryAfter(response.headers.get("Retry-After")), retryable });
}

/** fetch JSON; resolves with the parsed body or rejects with ApiError (AbortError passes through). */
export async function requestJSON(path, { method = "GET", body, signal, headers = {} } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: { Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError("Can't reach the Inkling service. Check your connection and try again.");
  }
  if (!response.ok) throw await toApiError(response);
  try {
    return await response.json();
  } catch {
    throw new ApiError("The service sent an answer that could not be read.", { status: response.status, code: "bad_response" });
  }
}

const me = () => ({ "Inkling-Writer": writerId() });

export const api = {
  config: () => requestJSON("api/config"),
  predict: (image, signal) => requestJSON("api/predict", { method: "POST", body: { image, writer: writerId() }, signal }),
  activations: (image, signal) => requestJSON("api/activations", { method: "POST", body: { image, writer: writerId() }, signal }),
  saveDrawing: (image, label, train) =>
    requestJSON("api/drawings", { method: "POST", body: { image, label, train, writer: writerId() } }),
  /** What the service remembers of this writer's handwriting: {drawings, counts, capacity, trust}. */
  me: () => requestJSON("api/me", { headers: me() }),
  /** Delete this writer's memory (and the links to their drawings); the page then takes a new id. */
  forgetMe: () => requestJSON("api/me", { method: "DELETE", headers: me() }),
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
