// The Promotions tab: the originals as served now (version, where it came from, a rollback), every retrain
// run with the gate's verdict on each challenger and the figures behind it (a refused one can be promoted
// anyway, with a reason), and what admins did to the models. Reads GET /api/models,
// GET /api/admin/promotions and GET /api/admin/audit/models; acts through
// POST /api/admin/promotions/{id}/force and POST /api/models/{name}/rollback. Each action asks why: the
// service keeps the answer in its audit log, and the tab shows it.

import { number, percent, t, tn } from "../js/i18n.js";
import { el, when } from "./row.js";

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
      const name = `served-${model.name}`;
      const rollback = el("button", { type: "button", class: "btn ghost small", "aria-describedby": name, // of which model
        disabled: model.version === 0 ? "" : null }, t("console.promotions.rollback"));
      rollback.addEventListener("click", () => this.#ask({ kind: "rollback", model }));
      return el("li", { class: "served-model", dataset: { model: model.name } },
        el("div", {},
          el("p", { class: "served-head" },
            el("strong", { id: name }, this.#title(model.name)), " ",
            el("span", { class: "badge" }, t("console.promotions.version", { version: model.version })), " ",
            t("console.promotions.accuracy", { accuracy: accuracy(model.holdout_accuracy, 2) })),
          el("p", { class: "muted origin" }, this.#origin(model))),
        rollback);
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
    const promoted = KINDS.filter((k) => run.models[k]?.promoted_as != null);
    const state = run.status === "skipped" ? "skipped" : run.forced ? "forced" : promoted.length ? "promoted" : "refused";
    const li = el("li", { class: "run card", dataset: { run: run.id, state } });
    const head = el("h3", {}, el("time", { datetime: run.created }, when(run.created)), " ",
      el("span", { class: `badge run-${state}` }, t(`console.promotions.state.${state}`)));
    const meta = el("p", { class: "muted meta" }, tn("console.promotions.run_id", { id: el("code", {}, run.id) }));
    if (run.cutoff) meta.append(" · ", t("console.promotions.cutoff", { when: when(run.cutoff, { seconds: true }) }));
    const data = run.card?.data;
    if (data && Number.isFinite(data.crowd)) {
      meta.append(" · ", t("console.promotions.trained_on", {
        crowd: number(data.crowd), base: number(data.base ?? 0), share: percent(run.card.crowd_share ?? 0),
      }));
    }
    li.append(head, meta);
    if (run.status === "skipped") {
      li.append(el("p", {}, run.reason));
      return li;
    }
    li.append(el("div", { class: "verdicts" }, KINDS.filter((kind) => run.models[kind])
      .map((kind) => this.#verdict(run, kind, served[`${kind}_original`]))));
    if (run.forced) {
      li.append(el("p", { class: "forced" }, tn("console.promotions.forced", {
        by: run.forced.by || "", when: when(run.forced.at), why: run.forced.why || "",
      })));
    }
    const refused = KINDS.filter((k) => run.models[k] && !run.models[k].promote && run.models[k].promoted_as == null);
    if (refused.length && !run.forced) {
      const force = el("button", { type: "button", class: "btn ghost small" }, t("console.promotions.force"));
      force.addEventListener("click", () => this.#ask({ kind: "force", run, refused }));
      li.append(force);
    }
    return li;
  }

  #verdict(run, kind, now) {
    const verdict = run.models[kind];
    const promoted = verdict.promoted_as;
    const said = promoted == null ? t("console.promotions.not_promoted", { version: run.champion?.[kind] ?? 0 })
      : now == null || now === promoted ? t("console.promotions.promoted_as", { version: promoted })
        : t("console.promotions.promoted_since", { version: promoted, now });
    return el("section", { class: "verdict", dataset: { kind, promote: String(promoted != null) } },
      el("h4", {}, this.#title(`${kind}_original`)),
      el("p", { class: promoted != null ? "said good" : "said" }, said),
      el("p", { class: "reason" }, verdict.reason), // the gate's own line (the service writes it in English)
      this.#figures(verdict.figures || {}));
  }

  /** The champion's and the challenger's accuracy side by side: on the crowd's newest drawings and the holdout. */
  #figures(figures) {
    const row = (cells, header = false) => el("tr", {}, cells.map((text, i) => (header || i === 0
      ? el("th", { scope: header ? "col" : "row" }, text) : el("td", {}, text))));
    const head = el("thead", {}, row([t("console.promotions.figures.set"), t("console.promotions.figures.champion"),
      t("console.promotions.figures.challenger")], true));
    const body = el("tbody");
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
    return el("table", { class: "figures" }, head, body);
  }

  // --- what admins did -----------------------------------------------------------------------------

  #action(action) {
    const who = el("strong", {}, action.by);
    const what = action.action === "rollback"
      ? tn("console.promotions.actions.rollback", { who, model: this.#title(action.model), to: action.to ?? 0, version: action.version ?? 0 })
      : tn("console.promotions.actions.force", { who, models: (action.models || []).map((k) => this.#title(`${k}_original`)).join(", "), run: action.promotion || "" });
    return el("li", { class: "entry", dataset: { action: action.action } },
      el("div", {},
        el("p", { class: "what" }, what),
        el("p", { class: "meta muted" }, el("time", { datetime: action.at }, when(action.at, { seconds: true })),
          action.why ? [" · ", t("console.promotions.why_said", { why: action.why })] : null)));
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
      d.version.replaceChildren(...Array.from({ length: model.version }, (_, v) => el("option", { value: String(v) },
        v === 0 ? t("console.promotions.dialog.shipped", { version: v }) : t("console.promotions.version", { version: v }))));
      d.version.value = String(model.version - 1); // the one before: undoes the last change
      d.confirm.textContent = t("console.promotions.dialog.rollback_confirm");
    } else {
      d.title.textContent = t("console.promotions.dialog.force_title");
      d.what.textContent = t("console.promotions.dialog.force_what");
      d.models.replaceChildren(...action.refused.map((kind) => el("label", {},
        el("input", { type: "checkbox", value: kind, checked: "" }), " ", this.#title(`${kind}_original`))));
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
