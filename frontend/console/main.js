// The review console's start (console/index.html loads it): the catalogue's words and the alphabet
// (GET /api/config), then the login form or, with a token this tab signed in with, the console: the queue,
// the audit log and the models' promotions, as tabs. A 401 anywhere signs out at once: the
// token is forgotten, every drawing shown is dropped, and the login form says why.

import { alphabetOf, alphabetTitle } from "../js/glyphs.js";
import { loadMessages, setDefaults, t, translatePage } from "../js/i18n.js";
import { AdminApi, ImageLoader, session } from "./admin.js";
import { AuditLog } from "./audit.js";
import { LabelPicker } from "./picker.js";
import { Promotions } from "./promotions.js";
import { ReviewQueue } from "./queue.js";
import { Toast } from "./toast.js";

const TABS = ["queue", "audit", "promotions"];
const $ = (selector) => document.querySelector(selector);
const byTestId = (id) => $(`[data-testid="${id}"]`);

async function boot() {
  const [words, config] = await Promise.allSettled([
    loadMessages(undefined, "../"),
    fetch("../api/config", { headers: { Accept: "application/json" } }).then((r) => (r.ok ? r.json() : Promise.reject(r))),
  ]);
  if (words.status === "rejected" || config.status === "rejected") {
    byTestId("boot-error").hidden = false;
    return;
  }
  new Console(config.value);
  document.documentElement.dataset.ready = "true";
}

class Console {
  constructor(config) {
    const alphabet = alphabetOf(config);
    const name = alphabetTitle(alphabet); // in the page's language (the one chosen on the page, else the browser's)
    setDefaults({ kind: alphabet.kind, title: name, count: alphabet.labels.length });
    translatePage();
    const title = byTestId("alphabet-title");
    title.textContent = name;
    title.hidden = false;
    document.body.dataset.alphabet = alphabet.isDigits ? "digits" : "other";
    this.api = new AdminApi();
    // A 401: a token just typed was wrong; one this tab held (at load, or while signed in) has expired.
    this.api.addEventListener("unauthorized", () => {
      if (this.signingIn) this.signOut("wrong");
      else if (this.signedIn || this.checking) this.signOut("expired");
    });
    this.toast = new Toast(byTestId("toast"));
    this.picker = new LabelPicker($("#picker"), alphabet);
    this.queue = new ReviewQueue({
      api: this.api, images: new ImageLoader(this.api), alphabet, titles: config.titles || {}, picker: this.picker, toast: this.toast,
      els: {
        list: byTestId("queue"), count: byTestId("queue-count"), empty: byTestId("queue-empty"), error: byTestId("queue-error"),
        more: byTestId("queue-more"), refresh: byTestId("queue-refresh"), selectAll: byTestId("select-all"),
        bulk: byTestId("bulk"), bulkCount: byTestId("bulk-count"),
        filters: {
          form: byTestId("filters"), status: $("#filter-status"), label: $("#filter-label"), writer: $("#filter-writer"),
          since: $("#filter-since"), until: $("#filter-until"), reset: byTestId("filters-reset"),
        },
      },
    });
    this.audit = new AuditLog({
      api: this.api, images: new ImageLoader(this.api), alphabet,
      els: { list: byTestId("audit"), more: byTestId("audit-more"), refresh: byTestId("audit-refresh"),
        empty: byTestId("audit-empty"), error: byTestId("audit-error") },
    });
    const action = $("#model-action");
    const part = (role) => action.querySelector(`[data-role=${role}]`);
    this.promotions = new Promotions({
      api: this.api, titles: config.titles || {}, toast: this.toast,
      dialog: { element: action, form: part("form"), title: part("title"), what: part("what"), version: part("version"),
        versionField: part("version-field"), models: part("models"), modelsField: part("models-field"), why: part("why"),
        error: part("error"), cancel: part("cancel"), confirm: part("confirm") },
      els: { served: byTestId("served"), runs: byTestId("runs"), runsEmpty: byTestId("runs-empty"),
        actions: byTestId("model-actions"), actionsEmpty: byTestId("model-actions-empty"),
        error: byTestId("promotions-error"), refresh: byTestId("promotions-refresh") },
    });
    this.keys = $("#keys");
    $("#keys-close").addEventListener("click", () => this.keys.close());
    byTestId("keys-open").addEventListener("click", () => this.keys.showModal());
    byTestId("sign-out").addEventListener("click", () => this.signOut("signed_out"));
    byTestId("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn($("#token").value.trim());
    });
    this.tabs = [...document.querySelectorAll("[role=tab]")];
    for (const tab of this.tabs) tab.addEventListener("click", () => this.show(tab.dataset.tab));
    $("[role=tablist]").addEventListener("keydown", (e) => this.#tabKeys(e));
    document.addEventListener("keydown", (e) => this.#keydown(e));
    // a narrow screen starts with the filters folded away
    if (window.matchMedia("(max-width: 640px)").matches) byTestId("filters-fold").open = false;
    this.tab = "queue";
    this.signingIn = false;
    this.checking = false;
    this.signedIn = false;
    if (session.token) this.#enter();
    else this.#login(null);
  }

  /** Keeps `token` for this tab and tries it: the console opens once the service answers with the queue. */
  async signIn(token) {
    if (!token) return;
    session.token = token;
    $("#token").value = "";
    this.signingIn = true;
    this.#loginMessage("checking", false);
    await this.#enter();
  }

  async #enter() {
    // Nothing is shown until the service has said yes to the token: the first page of the queue decides.
    const shell = byTestId("console");
    this.checking = true;
    try {
      await this.api.queue({}, null, 1);
    } catch (error) {
      this.signingIn = this.checking = false;
      if (error.status === 401) return; // signOut has already shown the form and why
      session.token = null;
      this.#login(error.status === 403 ? "disabled" : null, error.status === 403 ? null : error.message);
      return;
    }
    this.signingIn = this.checking = false;
    this.signedIn = true;
    byTestId("login").hidden = true;
    shell.hidden = false;
    byTestId("signed-in").hidden = false;
    this.show(this.tab, { focus: false });
    await this.queue.load();
    if (this.signedIn) this.queue.rows[0]?.article.focus();
  }

  /** Forgets the token and everything shown, and shows the login form saying `why`. */
  signOut(why) {
    session.token = null;
    this.signedIn = false;
    this.queue.reset();
    this.audit.clear();
    this.promotions.clear();
    this.toast.hide();
    if (this.picker.isOpen) this.picker.dialog.close();
    if (this.keys.open) this.keys.close();
    this.#login(why);
  }

  #login(why, detail = null) {
    byTestId("console").hidden = true;
    byTestId("signed-in").hidden = true;
    byTestId("login").hidden = false;
    const disabled = why === "disabled";
    byTestId("login-form").hidden = disabled;
    if (why || detail) this.#loginMessage(why, !["checking", "signed_out"].includes(why), detail);
    else byTestId("login-message").hidden = true;
    if (!disabled) $("#token").focus();
  }

  #loginMessage(why, alarming, detail = null) {
    const box = byTestId("login-message");
    box.textContent = detail ? t("console.login.failed", { why: detail }) : t(`console.login.${why}`);
    box.dataset.kind = alarming ? "error" : "info";
    box.hidden = false;
  }

  show(tab, { focus = false } = {}) {
    if (!TABS.includes(tab)) tab = "queue";
    this.tab = tab;
    for (const button of this.tabs) {
      const selected = button.dataset.tab === tab;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      if (selected && focus) button.focus();
    }
    for (const name of TABS) $(`#panel-${name}`).hidden = name !== tab;
    if (tab === "audit" && this.signedIn) this.audit.load();
    if (tab === "promotions" && this.signedIn) this.promotions.load();
  }

  #tabKeys(event) {
    const index = this.tabs.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: this.tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    this.show(this.tabs[(moves[event.key] + this.tabs.length) % this.tabs.length].dataset.tab, { focus: true });
  }

  #keydown(event) {
    if (!this.signedIn || this.keys.open || this.picker.isOpen || $("#model-action").open) return;
    const target = event.target;
    const typing = target instanceof HTMLElement && target.closest("input:not([type=checkbox]), select, textarea");
    if (event.key === "?" && !typing) {
      event.preventDefault();
      this.keys.showModal();
      return;
    }
    if (this.tab === "queue") this.queue.keydown(event);
  }
}

boot();
