// Who is drawing, without an account: a random id kept in this browser's localStorage (no cookie).
// The service keys the writer's own memory by it; "Forget my handwriting" deletes that memory and
// this page then starts afresh under a new id. Where storage is blocked (some private modes),
// the id lasts as long as the page.

const KEY = "inkling.writer";

function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // base64url: the [A-Za-z0-9_-] the service accepts, 22 characters
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function load() {
  try {
    const stored = localStorage.getItem(KEY);
    if (stored && /^[A-Za-z0-9_-]{22,64}$/.test(stored)) return stored; // the service takes 22 at least
    const id = newId();
    localStorage.setItem(KEY, id);
    return id;
  } catch {
    return newId();
  }
}

let current = load();

/** This browser's writer id. */
export const writerId = () => current;

/** A new id from now on (after the old one's memory was forgotten). */
export function renewWriterId() {
  current = newId();
  try {
    localStorage.setItem(KEY, current);
  } catch {
    /* storage blocked: the new id lasts for this page */
  }
  return current;
}
