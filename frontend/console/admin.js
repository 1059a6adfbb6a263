// The console's link to the service's admin API: the token (kept in this tab's sessionStorage only, never in
// the URL or localStorage), sent as "Authorization: Bearer" with every request; the drawings' images fetched
// with it too (an <img src> cannot send a header) and shown from blob: URLs.
//
// A 401 (no token, a wrong one, or one the service no longer accepts) forgets the token and tells whoever
// listens ("unauthorized"): the console then shows its login form and drops every drawing it showed.

import { t } from "../js/i18n.js";

const KEY = "inkling.console.token";
const BASE = "../"; // from /console/ to the service's root (relative, so a path prefix works too)

/** The token this tab signed in with, or null. */
export const session = {
  get token() {
    try {
      return sessionStorage.getItem(KEY);
    } catch {
      return null;
    }
  },
  set token(value) {
    try {
      if (value) sessionStorage.setItem(KEY, value);
      else sessionStorage.removeItem(KEY);
    } catch {
      /* storage refused (a private window's quota): the token lives as long as this page */
    }
  },
};

/** What went wrong, with words a person can act on: the service's own `detail`, else the catalogue's. */
export class ApiError extends Error {
  constructor(detail, { status = 0, code = "network", key = "errors.unreachable", retryable = true } = {}) {
    super();
    this.name = "ApiError";
    Object.assign(this, { detail, status, code, key, retryable });
  }

  get message() {
    return this.detail || t(this.key);
  }
}

async function errorOf(response) {
  let detail = null;
  let code = `http_${response.status}`;
  try {
    const body = await response.json();
    if (typeof body?.detail === "string") detail = body.detail;
    else if (Array.isArray(body?.detail) && body.detail[0]?.msg) detail = body.detail[0].msg;
    if (typeof body?.code === "string") code = body.code;
  } catch {
    /* not JSON */
  }
  const status = response.status;
  const key = `errors.http_${[400, 404, 413, 422, 429, 500, 503].includes(status) ? status : status >= 500 ? 500 : 400}`;
  return new ApiError(detail, { status, code, key, retryable: status >= 500 || status === 429 });
}

export class AdminApi extends EventTarget {
  /** The admin API's answer to `path` (relative to the service's root) as JSON; ApiError otherwise. */
  async request(path, { method = "GET", body, signal } = {}) {
    const response = await this.#fetch(path, {
      method,
      signal,
      headers: { Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    try {
      return await response.json();
    } catch {
      throw new ApiError(null, { status: response.status, code: "bad_response", key: "errors.unreadable" });
    }
  }

  async #fetch(path, init) {
    const token = session.token;
    if (!token) {
      this.#unauthorized();
      throw new ApiError(null, { status: 401, code: "unauthorized", key: "console.login.needed", retryable: false });
    }
    let response;
    try {
      response = await fetch(BASE + path, { ...init, cache: "no-store", credentials: "omit",
        headers: { ...init.headers, Authorization: `Bearer ${token}` } });
    } catch (error) {
      if (error?.name === "AbortError") throw error;
      throw new ApiError(null, { key: "errors.unreachable" });
    }
    if (response.status === 401) {
      this.#unauthorized();
      throw await errorOf(response);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  #unauthorized() {
    session.token = null;
    this.dispatchEvent(new Event("unauthorized"));
  }

  /** The review queue (GET /api/admin/review): {items, next, writers}. Empty filters are left out. */
  queue(filters = {}, cursor = null, limit = 50) {
    const query = new URLSearchParams({ limit: String(limit) });
    for (const [name, value] of Object.entries(filters)) if (value !== "" && value !== null && value !== undefined) query.set(name, String(value));
    if (cursor) query.set("cursor", cursor);
    return this.request(`api/admin/review?${query}`);
  }

  /**
   * One review (accept, relabel, discard, undo) of one drawing: {review, drawing}. `undoes` (undo only): the
   * reviews it may take back, those the reviewer has seen; a colleague's made since is refused with 409.
   */
  review(id, action, label = null, undoes = null) {
    return this.request(`api/admin/review/${encodeURIComponent(id)}`, {
      method: "POST", body: reviewBody(action, label, undoes),
    });
  }

  /** The same review of several drawings: {done: [{review, drawing}], refused: {id: why}}. */
  reviewMany(ids, action, label = null, undoes = null) {
    return this.request("api/admin/review", { method: "POST", body: { ids, ...reviewBody(action, label, undoes) } });
  }

  /** The audit log, newest first: {items, next}. */
  audit(cursor = null, limit = 50) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    return this.request(`api/admin/audit?${query}`);
  }

  /** A drawing's PNG (png_url as the API gives it, "/api/drawings/<id>.png") as a blob: URL; revoke it when done. */
  async image(pngUrl, signal) {
    const response = await this.#fetch(pngUrl.replace(/^\//, ""), { signal, headers: { Accept: "image/png" } });
    return URL.createObjectURL(await response.blob());
  }
}

/**
 * Images fetched with the token, a few at a time, in the order asked; forget() revokes every blob: URL made
 * and drops what was still waiting (on sign-out, or when the rows they were for are gone).
 */
export class ImageLoader {
  constructor(api, { parallel = 4 } = {}) {
    this.api = api;
    this.parallel = parallel;
    this.waiting = [];
    this.running = 0;
    this.urls = new Set();
    this.generation = 0;
  }

  /** Shows the drawing at `pngUrl` in `img` once it is fetched. */
  show(img, pngUrl) {
    this.waiting.push({ img, pngUrl, generation: this.generation });
    this.#pump();
  }

  #pump() {
    while (this.running < this.parallel && this.waiting.length) {
      const job = this.waiting.shift();
      this.running++;
      this.api.image(job.pngUrl)
        .then((url) => {
          if (job.generation !== this.generation || !job.img.isConnected) return URL.revokeObjectURL(url);
          this.urls.add(url);
          job.img.src = url;
          job.img.closest("[data-image]")?.setAttribute("data-image", "shown");
        })
        .catch(() => job.img.closest("[data-image]")?.setAttribute("data-image", "failed"))
        .finally(() => {
          this.running--;
          this.#pump();
        });
    }
  }

  forget() {
    this.generation++;
    this.waiting = [];
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls.clear();
  }
}

function reviewBody(action, label, undoes) {
  return { action, ...(label === null ? {} : { label }), ...(undoes === null ? {} : { undoes }) };
}
