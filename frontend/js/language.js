// The header's language picker: the page's languages (i18n.js LANGUAGES), each named in itself. A choice
// is kept in this browser, so that the page opens in it next time, and rewords the page at once, without a
// reload: the drawing on the pad, the answer and the tab on show stay as they were.

import { LANGUAGES, language, rememberLanguage, setLanguage } from "./i18n.js";

export class LanguagePicker {
  /** @param {HTMLSelectElement} select  the picker; its options are made here */
  constructor(select) {
    this.select = select;
    select.replaceChildren(...LANGUAGES.map(({ tag, name }) => {
      const option = document.createElement("option");
      option.value = tag;
      option.lang = tag; // each name in its own language (for screen readers and fonts)
      option.textContent = name;
      return option;
    }));
    select.value = language();
    select.addEventListener("change", () => this.choose(select.value));
    select.closest("label").hidden = false;
  }

  /** Speaks `tag` from now on, here and on the next visit; if its words cannot be fetched, nothing changes. */
  async choose(tag) {
    try {
      await setLanguage(tag);
      rememberLanguage(tag);
    } catch (error) {
      console.warn(`the page stays in ${language()}: ${error.message}`);
    }
    this.select.value = language();
  }
}
