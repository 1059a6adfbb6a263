// Saving the drawing on the pad with a label (POST /api/drawings), for the Draw tab's corrections and teach
// mode alike: one save at a time, with or without the person's consent to train on it, retried from the
// error box. Saving faster than the service accepts (429) is not an error to retry but a wait: the drawing
// stays on the pad and saving is blocked until the service's Retry-After has passed.
//
// Whoever listens hears "busychange" when a save starts or ends, or a wait starts or ends (read `blocked`),
// "wait" each second of a wait (detail: seconds left, 0 at its end) and "saved" once a drawing is stored
// (detail: label, train, response).

const DEFAULT_WAIT_S = 5; // when a 429 names no Retry-After

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
    this.until = 0; // performance.now() at which saving may start again
    this.timer = 0;
  }

  /** Whole seconds left to wait before saving may start again (0: it may now). */
  get waiting() {
    return Math.max(0, Math.ceil((this.until - performance.now()) / 1000));
  }

  /** A save is under way, or the service asked to wait. */
  get blocked() {
    return this.busy || this.waiting > 0;
  }

  /** POST the drawing now on the pad with `label`; onStored runs once it is stored (after any retries). */
  async store(label, { onStored }) {
    if (this.blocked) return;
    this.busy = true; // from the click on: a second click must not send the drawing twice
    const train = this.consent.checked;
    const strokes = this.pad.toStrokes(); // the pen strokes of the drawing the PNG is made of, taken with it
    const image = await this.pad.toPNG();
    const attempt = async () => {
      this.#setBusy(true);
      try {
        const response = await this.api.saveDrawing(image, label, train, strokes);
        this.errors.hide();
        this.dispatchEvent(new CustomEvent("saved", { detail: { label, train, response } }));
        onStored({ image, label, train, response });
      } catch (error) {
        if (error.status === 429) this.#wait(error.retryAfter ?? DEFAULT_WAIT_S);
        else this.errors.show(error, { kind: "save", retry: attempt });
      } finally {
        this.#setBusy(false);
      }
    };
    await attempt();
  }

  #wait(seconds) {
    clearInterval(this.timer);
    this.until = performance.now() + Math.max(1, seconds) * 1000;
    let said = null;
    const tick = () => {
      const left = this.waiting;
      if (left !== said) {
        said = left;
        this.dispatchEvent(new CustomEvent("wait", { detail: { seconds: left } }));
      }
      if (left === 0) {
        clearInterval(this.timer);
        this.dispatchEvent(new Event("busychange"));
      }
    };
    tick();
    this.timer = setInterval(tick, 200);
  }

  #setBusy(busy) {
    this.busy = busy;
    document.body.classList.toggle("saving", busy);
    this.dispatchEvent(new Event("busychange"));
  }
}
