// Saving the drawing on the pad with a label (POST /api/drawings), for the Draw tab's corrections and teach
// mode alike: one save at a time, with or without the person's consent to train on it, retried from the
// error box. Whoever listens hears "busychange" when a save starts or ends (read `busy`) and "saved" once
// a drawing is stored (detail: label, train, response).

export class DrawingSaver extends EventTarget {
  /**
   * @param {{pad: import("./pad.js").DrawingPad, api: object, consent: HTMLInputElement,
   *   errors: import("./errors.js").ErrorBox}} parts
   */
  constructor({ pad, api, consent, errors }) {
    super();
    this.pad = pad;
    this.api = api;
    this.consent = consent;
    this.errors = errors;
    this.busy = false;
  }

  /** POST the drawing now on the pad with `label`; onStored runs once it is stored (after any retries). */
  async store(label, { onStored }) {
    if (this.busy) return;
    this.busy = true; // from the click on: a second click must not send the drawing twice
    const train = this.consent.checked;
    const image = await this.pad.toPNG();
    const attempt = async () => {
      this.#setBusy(true);
      try {
        const response = await this.api.saveDrawing(image, label, train);
        this.errors.hide();
        this.dispatchEvent(new CustomEvent("saved", { detail: { label, train, response } }));
        onStored({ image, label, train, response });
      } catch (error) {
        this.errors.show(error, { kind: "save", retry: attempt });
      } finally {
        this.#setBusy(false);
      }
    };
    await attempt();
  }

  #setBusy(busy) {
    this.busy = busy;
    document.body.classList.toggle("saving", busy);
    this.dispatchEvent(new Event("busychange"));
  }
}
