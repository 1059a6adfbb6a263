// The Promotions tab: the originals as served now (version, where it came from, a rollback), every retrain
// run with the gate's verdict on each challenger and the figures behind it (a refused one can be promoted
// anyway, with a reason), and what admins did to the models. Reads GET /api/models,
// GET /api/admin/promotions and GET /api/admin/audit/models; acts through
// POST /api/admin/promotions/{id}/force and POST /api/models/{name}/rollback. Each action asks why: the
// service keeps the answer in its audit log, and the tab shows it.

import { number, percent, t, tn } from "../js/i18n.js";
import { when } from "./row.js";

const KINDS = ["fnn", "cnn"];
// Accuracies to a tenth of a point (a hundredth on a holdout set of thousands): the gate's differences are that small.
const accuracy = (p, digits = 1) => (Number.isFinite(p)
  ? number(p, { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }) : t("common.no_number"));

export class Promotions {
  constructor({ api, titles, toast, dialog, els }) {
    Object.assign(this, { api, titles, toast, dialog, els });
    this.generation = 0;
    this.action = null; // what the open dialog will do on confirm
    els.refresh.addEventListener("click", () => this.load());
    dialog.form.addEventListener("submit", (event) => this.#confirm(event));
    dialog.cancel.addEventListener("click", () => dialog.element.close());
  }

  /** Reads the three lists again and shows them. */
  async load() {
    const generation = ++this.generation;
    this.els.runs.setAttribute("aria-busy", "true");
    try {
      const [models, runs, actions] = await Promise.all([
        this.api.request("api/models"), this.api.request("api/admin/promotions?limit=50"),
        this.api.request("api/admin/audit/models?limit=50"),
      ]);
      if (generation !== this.generation) return;
      this.els.error.hidden = true;
      const originals = models.models.filter((m) => !m.online);
      this.#served(originals);
      const served = Object.fromEntries(originals.map((m) => [m.name, m.version]));
      this.els.runs.replaceChildren(...runs.items.map((run) => this.#run(run, served)));
      this.els.runsEmpty.hidden = runs.items.length > 0;
      this.els.actions.replaceChildren(...actions.items.map((action) => this.#action(action)));
      this.els.actionsEmpty.hidden = actions.items.length > 0;
    } catch (error) {
      if (generation === this.generation && error?.status !== 401) {
        this.els.error.textContent = t("console.promotions.failed", { why: error.message });
        this.els.error.hidden = false;
      }
    } finally {
      if (generation === this.generation) this.els.runs.setAttribute("aria-busy", "false");
    }
  }

  clear() {
    this.generation++;
    for (const list of [this.els.served, this.els.runs, this.els.actions]) list.replaceChildren();
    this.els.error.hidden = true;
    if (this.dialog.element.open) this.dialog.element.close();
  }

  #title(name) {
    return this.titles[name] || name;
  }

  // --- the originals served now ---------------------------------------------------------------------

  #served(originals) {
    this.els.served.replaceChildren(...originals.map((model) => {
      const li = document.createElement("li");
      li.className = "served-model";
      li.dataset.model = model.name;
      const head = document.createElement("p");
      head.className = "served-head";
      const name = document.createElement("strong");
      name.textContent = this.#title(model.name);
      const version = document.createElement("span");
      version.className = "badge";
      version.textContent = t("console.promotions.version", { version: model.version });
      head.append(name, " ", version, " ", t("console.promotions.accuracy", { accuracy: accuracy(model.holdout_accuracy, 2) }));
      const origin = document.createElement("p");
      origin.className = "muted origin";
      origin.append(...this.#origin(model));
      const rollback = document.createElement("button");
      rollback.type = "button";
      rollback.className = "btn ghost small";
      rollback.textContent = t("console.promotions.rollback");
      name.id = `served-${model.name}`;
      rollback.setAttribute("aria-describedby", name.id); // "Roll back…", of which model
      rollback.disabled = model.version === 0;
      rollback.addEventListener("click", () => this.#ask({ kind: "rollback", model }));
      const words = document.createElement("div");
      words.append(head, origin);
      li.append(words, rollback);
      return li;
    }));
  }

  #origin(model) {
    const o = model.origin;
    if (!o || model.version === 0) return [t("console.promotions.origin.shipped")];
    const params = { when: when(o.at), by: o.by || "", why: o.why || "", to: o.to ?? 0, run: o.promotion || "" };
    if (o.reason === "rollback") return tn("console.promotions.origin.rollback", params);
    return tn(o.forced ? "console.promotions.origin.forced" : "console.promotions.origin.promoted", params);
  }

  // --- retrain runs --------------------------------------------------------------------------------

  /** One retrain run; `served`: each original's version served now (a promotion since rolled back says so). */
  #run(run, served) {
    const li = document.createElement("li");
    li.className = "run card";
    li.dataset.run = run.id;
    const promoted = KINDS.filter((k) => run.models[k]?.promoted_as != null);
    const state = run.status === "skipped" ? "skipped" : run.forced ? "forced" : promoted.length ? "promoted" : "refused";
    li.dataset.state = state;
    const head = document.createElement("h3");
    const time = document.createElement("time");
    time.dateTime = run.created;
    time.textContent = when(run.created);
    const badge = document.createElement("span");
    badge.className = `badge run-${state}`;
    badge.textContent = t(`console.promotions.state.${state}`);
    head.append(time, " ", badge);
    const meta = document.createElement("p");
    meta.className = "muted meta";
    const id = document.createElement("code");
    id.textContent = run.id;
    meta.append(...tn("console.promotions.run_id", { id }));
    if (run.cutoff) meta.append(" · ", t("console.promotions.cutoff", { when: when(run.cutoff, { seconds: true }) }));
    const data = run.card?.data;
    if (data && Number.isFinite(data.crowd)) {
      meta.append(" · ", t("console.promotions.trained_on", {
        crowd: number(data.crowd), base: number(data.base ?? 0), share: percent(run.card.crowd_share ?? 0),
      }));
    }
    li.append(head, meta);
    if (run.status === "skipped") {
      const why = document.createElement("p");
      why.textContent = run.reason;
      li.append(why);
      return li;
    }
    const verdicts = document.createElement("div");
    verdicts.className = "verdicts";
    for (const kind of KINDS) if (run.models[kind]) verdicts.append(this.#verdict(run, kind, served[`${kind}_original`]));
    li.append(verdicts);
    if (run.forced) {
      const forced = document.createElement("p");
      forced.className = "forced";
      forced.append(...tn("console.promotions.forced", {
        by: run.forced.by || "", when: when(run.forced.at), why: run.forced.why || "",
      }));
      li.append(forced);
    }
    const refused = KINDS.filter((k) => run.models[k] && !run.models[k].promote && run.models[k].promoted_as == null);
    if (refused.length && !run.forced) {
      const force = document.createElement("button");
      force.type = "button";
      force.className = "btn ghost small";
      force.textContent = t("console.promotions.force");
      force.addEventListener("click", () => this.#ask({ kind: "force", run, refused }));
      li.append(force);
    }
    return li;
  }

  #verdict(run, kind, now) {
    const verdict = run.models[kind];
    const model = `${kind}_original`;
    const box = document.createElement("section");
    box.className = "verdict";
    box.dataset.kind = kind;
    box.dataset.promote = String(verdict.promoted_as != null);
    const title = document.createElement("h4");
    title.textContent = this.#title(model);
    const said = document.createElement("p");
    said.className = verdict.promoted_as != null ? "said good" : "said";
    const promoted = verdict.promoted_as;
    said.textContent = promoted == null ? t("console.promotions.not_promoted", { version: run.champion?.[kind] ?? 0 })
      : now == null || now === promoted ? t("console.promotions.promoted_as", { version: promoted })
        : t("console.promotions.promoted_since", { version: promoted, now });
    const reason = document.createElement("p");
    reason.className = "reason";
    reason.textContent = verdict.reason; // the gate's own line (the service writes it in English)
    box.append(title, said, reason, this.#figures(verdict.figures || {}));
    return box;
  }

  /** The champion's and the challenger's accuracy side by side: on the crowd's newest drawings and the holdout. */
  #figures(figures) {
    const table = document.createElement("table");
    table.className = "figures";
    const row = (cells, header = false) => {
      const tr = document.createElement("tr");
      cells.forEach((text, i) => {
        const cell = document.createElement(header || i === 0 ? "th" : "td");
        if (!header && i === 0) cell.scope = "row";
        if (header) cell.scope = "col";
        cell.textContent = text;
        tr.append(cell);
      });
      return tr;
    };
    const head = document.createElement("thead");
    head.append(row([t("console.promotions.figures.set"), t("console.promotions.figures.champion"),
      t("console.promotions.figures.challenger")], true));
    const body = document.createElement("tbody");
    const crowd = figures.crowd;
    if (crowd) {
      const p = Number.isFinite(crowd.p) ? t("console.promotions.figures.p", { p: number(crowd.p, { maximumSignificantDigits: 2 }) }) : "";
      body.append(row([t("console.promotions.figures.crowd", { n: crowd.n ?? 0 }) + (p ? ` (${p})` : ""),
        accuracy(crowd.champion), accuracy(crowd.challenger)]));
    }
    const holdout = figures.holdout;
    if (holdout?.name) {
      body.append(row([t("console.promotions.figures.holdout", { name: holdout.name, n: holdout.n ?? 0 }),
        accuracy(holdout.champion, 2), accuracy(holdout.challenger, 2)]));
    }
    table.append(head, body);
    return table;
  }

  // --- what admins did -----------------------------------------------------------------------------

  #action(action) {
    const li = document.createElement("li");
    li.className = "entry";
    li.dataset.action = action.action;
    const what = document.createElement("p");
    what.className = "what";
    const who = document.createElement("strong");
    who.textContent = action.by;
    what.append(...(action.action === "rollback"
      ? tn("console.promotions.actions.rollback", { who, model: this.#title(action.model), to: action.to ?? 0, version: action.version ?? 0 })
      : tn("console.promotions.actions.force", { who, models: (action.models || []).map((k) => this.#title(`${k}_original`)).join(", "), run: action.promotion || "" })));
    const meta = document.createElement("p");
    meta.className = "meta muted";
    const time = document.createElement("time");
    time.dateTime = action.at;
    time.textContent = when(action.at, { seconds: true });
    meta.append(time);
    if (action.why) meta.append(" · ", t("console.promotions.why_said", { why: action.why }));
    const words = document.createElement("div");
    words.append(what, meta);
    li.append(words);
    return li;
  }

  // --- the dialog: why, and for a rollback, to which version -----------------------------------------

  #ask(action) {
    this.action = action;
    const d = this.dialog;
    d.error.hidden = true;
    d.why.value = "";
    d.versionField.hidden = action.kind !== "rollback";
    d.modelsField.hidden = action.kind !== "force";
    if (action.kind === "rollback") {
      const { model } = action;
      d.title.textContent = t("console.promotions.dialog.rollback_title", { model: this.#title(model.name) });
      d.what.textContent = t("console.promotions.dialog.rollback_what", { version: model.version });
      d.version.replaceChildren(...Array.from({ length: model.version }, (_, v) => {
        const option = document.createElement("option");
        option.value = String(v);
        option.textContent = v === 0 ? t("console.promotions.dialog.shipped", { version: v }) : t("console.promotions.version", { version: v });
        return option;
      }));
      d.version.value = String(model.version - 1); // the one before: undoes the last change
      d.confirm.textContent = t("console.promotions.dialog.rollback_confirm");
    } else {
      d.title.textContent = t("console.promotions.dialog.force_title");
      d.what.textContent = t("console.promotions.dialog.force_what");
      d.models.replaceChildren(...action.refused.map((kind) => {
        const label = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.value = kind;
        box.checked = true;
        label.append(box, " ", this.#title(`${kind}_original`));
        return label;
      }));
      d.confirm.textContent = t("console.promotions.dialog.force_confirm");
    }
    d.element.showModal();
    d.why.focus();
  }

  async #confirm(event) {
    event.preventDefault();
    const d = this.dialog;
    const action = this.action;
    const why = d.why.value.trim();
    if (!why) {
      d.error.textContent = t("console.promotions.dialog.why_needed");
      d.error.hidden = false;
      d.why.focus();
      return;
    }
    d.confirm.disabled = true;
    try {
      if (action.kind === "rollback") {
        const version = Number(d.version.value);
        const done = await this.api.request(`api/models/${encodeURIComponent(action.model.name)}/rollback`,
          { method: "POST", body: { version, why } });
        this.toast.show(t("console.promotions.done.rollback", { model: this.#title(action.model.name), to: version, version: done.version }));
      } else {
        const models = [...d.models.querySelectorAll("input:checked")].map((box) => box.value);
        if (!models.length) {
          d.error.textContent = t("console.promotions.dialog.models_needed");
          d.error.hidden = false;
          return;
        }
        const done = await this.api.request(`api/admin/promotions/${encodeURIComponent(action.run.id)}/force`,
          { method: "POST", body: { why, models } });
        const versions = Object.entries(done.versions).map(([k, v]) => `${this.#title(`${k}_original`)} v${v}`).join(", ");
        this.toast.show(t("console.promotions.done.force", { versions }));
      }
      d.element.close();
      await this.load();
    } catch (error) {
      if (error?.status === 401) return;
      d.error.textContent = t("console.promotions.dialog.failed", { why: error.message });
      d.error.hidden = false;
    } finally {
      d.confirm.disabled = false;
    }
  }
}
