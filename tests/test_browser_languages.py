"""Issue 27, item 4: the page in six languages, in a real browser (Chromium through Playwright).

Kept fast (one service for the module, one page load per case, about 40 s here): CI runs it on every push.

- Each language in turn, opened by a new visitor whose browser asks for it (Playwright's ``locale`` sets both
  ``Accept-Language`` and ``navigator.languages``; de-DE opens German, zh-CN Simplified Chinese, pt-BR English):
  the idle page, the Number mode, an answer with the memory's vote, "How to read this", teach mode and the stats, each on a
  1280x800 laptop and a 390x844 phone, with no message missing from the catalogue (js/i18n.js lists each in
  ``window.__i18nMissing``), no English left over (a run of two words of en.json the language's catalogue
  does not say too, or the service's English sentences), no text overflowing its button, tab, select or
  badge or the card it sits in, no sideways scroll, ``<html lang>`` the language's; axe-core on one screen.
- The picker rewords every word on show without a reload, keeps the drawing and the answer, and is
  remembered across a reload whatever the browser says; the review console (/console) speaks it too.
- An error from the service (a 4xx or 503 with its ``code``) is said in the page's language, never in the
  service's English; and Russian plurals render right for 1, 2 and 5.
- The review console (/console) in each language, as a reviewer uses it: sign-in, the queue with held drawings,
  the relabel picker, the audit log after a decision, the promotions: the same checks as the page's screens.
- An alphabet written in a language of the page's (hiragana: ``"ja"`` in ``GET /api/config``) opens in that
  language. This module fakes that config on the digits service (a hiragana service of its own would cost
  another start-up); tests/test_browser_hiragana.py runs the real one.

What was found on each screen is kept in ``artifacts/languages/<lang>.json``, with a screenshot of each
language's answer screen in ``artifacts/screenshots/lang-<lang>-answer.png``.
"""

from __future__ import annotations

import json
import re
import secrets

import numpy as np
import pytest

from tests.browser_pages import SCREENS, open_page, replay_with_mouse
from inkling_testkit.live_service import PROJECT_ROOT, LiveService

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_request_leaves_the_origin")]

playwright_sync = pytest.importorskip("playwright.sync_api")
pytest.importorskip("httpx")
expect = playwright_sync.expect

from tests.test_browser import AXE_PATHS, axe_violations, shot, wait_for_prediction  # noqa: E402 (needs Playwright)
from tests.test_catalogues import PLURALS, branches, load, messages  # noqa: E402

FOUND = PROJECT_ROOT / "artifacts" / "languages"
ADMIN = "lang-" + secrets.token_hex(12)
ENV = {"INKLING_DRAWINGS_BURST": "200", "INKLING_DRAWINGS_PER_MINUTE": "6000", "INKLING_ADMIN_TOKENS": f"ana:{ADMIN}"}
# A new visitor's browser (Playwright's locale: Accept-Language and navigator.languages) and the catalogue it gets
# (Brazilian Portuguese, which the page does not speak: English).
BROWSERS = {"en": "pt-BR", "de": "de-DE", "fr": "fr-FR", "ru": "ru-RU", "zh-Hans": "zh-CN", "ja": "ja-JP"}
LAPTOP, PHONE = SCREENS["desktop"]["viewport"], SCREENS["phone"]["viewport"]

# Answers the page is made to show (the service's real answer, changed): one of each kind, for their words.
ANSWER = {"label": 8, "digit": 8, "glyph": "8", "why": None, "p": 0.93, "agree": 3, "personalised_by": 3,
          "best": {"label": 8, "digit": 8, "glyph": "8", "p": 0.93}, "memory": {"label": 2, "digit": 2, "glyph": "2"}}
CANT_TELL = {"label": None, "digit": None, "glyph": None, "p": 0.41, "agree": 2, "personalised_by": 0, "memory": None,
             "best": {"label": 3, "digit": 3, "glyph": "3", "p": 0.41}}
# The service's own English sentences, which a page in another language must not show.
SERVER_SAYS = ["You are sending drawings quickly; please wait 2 s and send again.",
               "Storage is unavailable right now; please try again in a few seconds.",
               "The strokes are not valid.", "This does not look like a digit.", "A code the page has no words for."]


def line(*points) -> np.ndarray:
    points = np.asarray(points, float)
    return np.concatenate([np.linspace(a, b, 8) for a, b in zip(points[:-1], points[1:])])


SEVEN = [line((70, 60), (210, 60), (120, 230))]  # in canvas pixels (280 square)


def draw_strokes(page, strokes, canvas_size: int = 280) -> None:
    """Draws ``strokes`` (canvas pixels) with the mouse on the pad, found by its test id (its name is in the
    page's language; browser_pages.draw_strokes finds it by its English name)."""
    box = page.get_by_test_id("pad").bounding_box()
    scale = np.array([box["width"], box["height"]]) / canvas_size
    replay_with_mouse(page, [np.asarray(s, float) * scale + [box["x"], box["y"]] for s in strokes])


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    pytest.importorskip("service.app")
    with LiveService(tmp_path_factory.mktemp("inkling-browser-languages"), env=ENV) as svc:
        yield svc


def open_in(browser, service, requests_seen, locale: str, **options):
    """A new visitor's page, the browser set to ``locale``, no language chosen yet."""
    return open_page(browser, service, requests_seen, language=None, locale=locale, **options)
# --- what is checked on every screen ----------------------------------------------------------------


def english_left(lang: str) -> list[str]:
    """The pieces of English a page in ``lang`` must not show: every run of two words or more of en.json (between
    its placeholders and marks) that ``lang``'s catalogue does not say too, and the service's English sentences."""
    if lang == "en":
        return []
    theirs = " ".join(text for message in messages(load(lang)).values() for text in branches(message)).lower()
    pieces = set()
    for message in messages(load("en")).values():
        for text in branches(message):
            for piece in re.split(r"\{\w+\}|</?\w+>|#|[.:;!?()“”—–·]", text):
                piece = piece.strip(" ,")
                if len(re.findall(r"[A-Za-z]+", piece)) >= 2 and piece.lower() not in theirs:
                    pieces.add(piece.lower())
    return sorted(pieces | {s.lower() for s in SERVER_SAYS})


READ_PAGE = """() => {
  // Every word the page says, shown or to a screen reader: its text, the names and titles of its elements.
  const words = [document.title, document.body.innerText];
  for (const element of document.querySelectorAll("[aria-label], [title], [alt], [placeholder]"))
    for (const name of ["aria-label", "title", "alt", "placeholder"])
      if (element.hasAttribute(name)) words.push(element.getAttribute(name));
  for (const node of document.querySelectorAll("svg title, option")) words.push(node.textContent);
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const name = (e) => (e.innerText || e.getAttribute("aria-label") || e.className || e.tagName).trim().slice(0, 50);
  const controls = [...document.querySelectorAll(
    "button, [role=tab], select, .consent, .badge, .teach-badge, .teach-count, .version, .version-change, .ba-label, "
    + ".alphabet-title, .g-p, .save-status, .chart-key")].filter(shown);
  // A control's text overflows it, or the control sticks out of the card (or tile, or screen) it sits in.
  const overflowing = controls
    .filter((e) => e.clientWidth > 0 && (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1))
    .map((e) => ({control: name(e), scroll: [e.scrollWidth, e.scrollHeight], client: [e.clientWidth, e.clientHeight]}));
  const outside = controls.filter((e) => {
    const box = e.getBoundingClientRect();
    const holder = e.parentElement.closest(".card, .model-card, .drawing, .top-inner, dialog, .ba") || document.documentElement;
    const room = holder === document.documentElement ? {left: 0, right: innerWidth} : holder.getBoundingClientRect();
    return box.left < room.left - 1 || box.right > room.right + 1;
  }).map(name);
  return {
    lang: document.documentElement.lang,
    missing: [...(window.__i18nMissing || [])],
    words: words.join("\\n").replace(/[\\u00a0\\u202f]/g, " ").toLowerCase(),
    overflowing, outside,
    sideways: document.documentElement.scrollWidth > innerWidth + 1,
  };
}"""


class Walk:
    """Looks at every screen of a page in ``lang`` on both screens, and keeps what is wrong with each."""

    def __init__(self, page, lang: str):
        self.page, self.lang = page, lang
        self.english = english_left(lang)
        self.found: dict[str, dict] = {}
        self.checked: list[str] = []

    def look(self, screen: str, axe: bool = False, phone: bool = True) -> None:
        """Looks at the screen on a laptop, then (unless ``phone`` is False) on a phone; axe-core on the laptop."""
        for size, viewport in (("laptop", LAPTOP), ("phone", PHONE))[:2 if phone else 1]:
            self.page.set_viewport_size(viewport)
            self.page.wait_for_timeout(50)  # layout (and the charts, redrawn at the new width) settle
            seen = self.page.evaluate(READ_PAGE)
            wrong = {
                "lang": seen["lang"] if seen["lang"] != self.lang else None,
                "missing": seen["missing"],
                "english": [piece for piece in self.english  # whole words: "it is" is no leftover in "Arbeit ist"
                            if re.search(r"(?<!\w)" + re.escape(piece) + r"(?!\w)", seen["words"])],
                "overflowing": seen["overflowing"],
                "outside": seen["outside"],
                "sideways": seen["sideways"],
            }
            if axe and AXE_PATHS and size == "laptop":
                wrong["axe"] = axe_violations(self.page)
            wrong = {k: v for k, v in wrong.items() if v}
            if wrong:
                self.found[f"{screen} ({size})"] = wrong
            self.checked.append(f"{screen} ({size})")
        self.page.set_viewport_size(LAPTOP)

    def keep(self) -> None:
        self.keep_as(self.lang)

    def keep_as(self, name: str) -> None:
        FOUND.mkdir(parents=True, exist_ok=True)
        (FOUND / f"{name}.json").write_text(json.dumps({"checked": self.checked, "found": self.found},
                                                       ensure_ascii=False, indent=1))


def said_by(page, key: str, **params) -> str:
    """What the page's own t() says for ``key`` now (in the page's language)."""
    return page.evaluate("async ([key, params]) => (await import('/js/i18n.js')).t(key, params)", [key, params])


def percent(page, p: float) -> str:
    """``p`` as the page's language writes a whole percentage (Intl): "93%", "93 %"."""
    return page.evaluate("([lang, p]) => new Intl.NumberFormat(lang, {style: 'percent', maximumFractionDigits: 0})"
                         ".format(p).replace(/[\\u00a0\\u202f]/g, ' ')", [page.evaluate("document.documentElement.lang"), p])


def shown_text(locator) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", locator.inner_text())


def answered(page) -> dict:
    return wait_for_prediction(page)["answer"]


def redraw(page, strokes=SEVEN) -> None:
    """A new drawing on the pad: the page asks for an answer afresh."""
    clear = page.get_by_test_id("clear")
    if clear.is_enabled():
        clear.click()
    draw_strokes(page, strokes)


class Service:
    """The service's answers, changed on the way to the page: ``answer`` is laid over each predict answer (the
    service's first real answer, kept for the module: the words are the test, not the models); ``fail`` answers
    predictions with an error; ``refuse`` answers the next save with a 429."""

    real: dict | None = None

    def __init__(self, page):
        self.answer, self.fail, self.refuse = None, None, 0
        page.route("**/api/predict", self.predict)
        page.route("**/api/drawings", self.drawings)

    def predict(self, route):
        if self.fail:
            return route.fulfill(**self.fail)
        if Service.real is None or not self.answer:
            body = route.fetch().json()
            Service.real = Service.real or body
        else:
            body = json.loads(json.dumps(Service.real))
        if self.answer:
            body["answer"].update(self.answer)
        route.fulfill(json=body)

    def drawings(self, route):
        if route.request.method == "POST" and self.refuse:
            self.refuse -= 1
            return route.fulfill(status=429, headers={"Retry-After": "2"}, json={"detail": SERVER_SAYS[0], "code": "rate_limited"})
        route.continue_()


# --- a new visitor, in each language --------------------------------------------------------------------


def test_each_language_for_a_new_visitor_every_screen(browser, service, requests_seen):
    """The browser's language picks the page's (Accept-Language: de-DE is German, zh-CN Simplified Chinese; a
    language the page does not speak, pt-BR, English); then the main screens, with nothing missing, no English, nothing
    overflowing, on a laptop and a phone."""
    found = {}
    for lang, locale in BROWSERS.items():
        page = open_in(browser, service, requests_seen, locale)
        walk = Walk(page, lang)
        try:
            asked = page.evaluate("navigator.languages")
            assert asked[0] == locale, asked
            assert page.evaluate("document.documentElement.lang") == lang, locale
            assert page.get_by_test_id("language").input_value() == lang
            assert page.get_by_test_id("tab-draw").inner_text() == said_by(page, "page.tab_draw")
            if lang == "en":  # English's screens are tests/test_browser.py's; here, how the language is chosen
                # The same language in the same script (zh-TW is Traditional Chinese, which the page does not
                # speak); none of the page's: English (startLanguage).
                chosen = page.evaluate("""async (lists) => {
                    const i18n = await import('/js/i18n.js');
                    return lists.map((list) => i18n.chooseLanguage(list));
                }""", [["zh-CN"], ["zh-SG"], ["zh"], ["zh-Hans-HK"], ["zh-TW", "fr-CA"], ["zh-Hant"], ["de-AT", "en"],
                       ["pt-BR", "ru-UA"], ["en-GB", "ja"], ["pt-BR"], ["x-bad-", "ja-JP"]])
                assert chosen == ["zh-Hans", "zh-Hans", "zh-Hans", "zh-Hans", "fr", None, "de", "ru", "en", None, "ja"]
                # Intl's plural categories are those tests/test_catalogues.py checks the catalogues against.
                categories = page.evaluate("(langs) => Object.fromEntries(langs.map((l) => [l, new Intl.PluralRules(l)"
                                           ".resolvedOptions().pluralCategories]))", list(PLURALS))
                assert {tag: set(c) for tag, c in categories.items()} == PLURALS
                continue
            walk.look("idle")
            page.locator("[data-write=number]:visible").first.click()  # the Number mode's pad and words
            expect(page.get_by_test_id("number")).to_be_visible()
            walk.look("number mode")
            page.locator("[data-write=digit]:visible").first.click()
            expect(page.get_by_test_id("number")).to_be_hidden()
            fake = Service(page)
            fake.answer = ANSWER
            draw_strokes(page, SEVEN)
            assert answered(page)["label"] == 8
            card = page.get_by_test_id("answer")
            assert card.get_attribute("data-state") == "answer"
            expect(page.get_by_test_id("model-memory")).to_be_visible()
            assert percent(page, 0.93) in shown_text(card), shown_text(card)  # "93 %" in French and German
            walk.look("answer, the memory's vote", axe=lang == "ja")
            shot(page, f"lang-{lang}-answer")
            page.get_by_test_id("explain-answer").click()
            expect(page.get_by_test_id("explain")).to_be_visible()
            walk.look("how to read this", phone=False)
            page.keyboard.press("Escape")
            if lang in ("ru", "ja"):  # the service's English reason never shows (two languages: a drawing each)
                fake.answer = {**CANT_TELL, "why": "not_a_character", "reason": SERVER_SAYS[3]}
                page.get_by_test_id("clear").click()
                draw_strokes(page, SEVEN)
                assert answered(page)["why"] == "not_a_character"
                walk.look("can't tell: not a character", phone=False)
            page.get_by_test_id("tab-teach").click()
            walk.look("teach mode")
            page.get_by_test_id("tab-stats").click()
            page.get_by_test_id("counts-chart").locator("svg").wait_for()
            walk.look("stats", phone=False)
            assert not page.js_errors, page.js_errors
        finally:
            walk.keep()
            page.context.close()
        if walk.found:
            found[lang] = walk.found
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


# --- the review console, in each language ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def held(service):
    """Drawings the service holds for review: clear digits given another digit's label."""
    import httpx

    from inkling_testkit.load_client import pendigit_drawings

    ids = []
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        for drawing in pendigit_drawings(12):
            r = client.post("/api/drawings", json={"image": drawing.data_url, "label": (drawing.label + 5) % 10})
            assert r.status_code == 201, r.text
            if client.get(f"/api/drawings/{r.json()['id']}").json()["status"] == "quarantined":
                ids.append(r.json()["id"])
    assert len(ids) >= 3, ids
    return ids


def test_the_review_console_in_each_language_every_screen(browser, service, requests_seen, held):
    """/console for a reviewer whose browser asks for each language: sign-in, the queue, the relabel picker, the
    audit log after a decision (then taken back), the promotions; nothing missing, no English, nothing
    overflowing, on a laptop and a phone."""
    found = {}
    for lang, locale in BROWSERS.items():
        if lang == "en":  # English's screens are tests/test_browser_console.py's
            continue
        context = browser.new_context(viewport=LAPTOP, locale=locale)
        context.on("request", lambda request: requests_seen.append(request.url))
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        walk = Walk(page, lang)
        try:
            page.goto(f"{service.base_url}/console")
            page.wait_for_selector("html[data-ready=true]", timeout=15_000)
            walk.look("console: sign in")
            page.locator("#token").fill(ADMIN)
            page.locator("#token").press("Enter")
            first = page.get_by_test_id("review-item").first
            expect(first).to_be_visible()
            expect(first.locator("img[src^='blob:']")).to_be_visible()
            walk.look("console: the queue")
            first.focus()
            page.keyboard.press("r")
            expect(page.locator("dialog[open]")).to_be_visible()
            walk.look("console: the relabel picker", phone=False)
            page.keyboard.press("Escape")
            expect(page.locator("dialog[open]")).to_have_count(0)
            first.focus()
            page.keyboard.press("a")
            expect(page.get_by_test_id("toast")).to_be_visible()
            walk.look("console: a decision's toast", phone=False)
            page.keyboard.press("u")
            page.locator("#tab-audit").click()
            expect(page.get_by_test_id("audit").locator(".entry").first).to_be_visible()
            walk.look("console: the audit log")
            page.locator("#tab-promotions").click()
            expect(page.get_by_test_id("served").locator("li").first).to_be_visible()
            walk.look("console: promotions")
            assert not page.js_errors, page.js_errors
        finally:
            walk.keep_as(f"console-{lang}")
            context.close()
        if walk.found:
            found[lang] = walk.found
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


# --- the picker -------------------------------------------------------------------------------------------


def test_the_picker_rewords_everything_without_a_reload_and_remembers(browser, service, requests_seen):
    """Chosen in the header, a language rewords every word on show at once, keeps the drawing, the answer and the
    tab, sets <html lang>, and is the page's language on the next visit, whatever the browser says."""
    page = open_in(browser, service, requests_seen, "en-US")
    try:
        fake = Service(page)
        fake.answer = ANSWER
        draw_strokes(page, SEVEN)
        answered(page)
        page.get_by_test_id("layers").locator("figure").first.wait_for()
        page.evaluate("window.stillHere = true")  # gone if the page reloads
        picker = page.get_by_role("combobox", name="Language")
        assert picker.evaluate("s => [...s.options].map(o => [o.value, o.lang, o.textContent])") == [
            ["en", "en", "English"], ["de", "de", "Deutsch"], ["fr", "fr", "Français"], ["ru", "ru", "Русский"],
            ["zh-Hans", "zh-Hans", "简体中文"], ["ja", "ja", "日本語"]]

        picker.select_option("de")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        assert page.evaluate("window.stillHere") and page.evaluate("localStorage.getItem('inkling.language')") == "de"
        assert page.get_by_test_id("pad").get_attribute("data-strokes") != "0"  # the drawing stays
        assert page.get_by_test_id("answer").get_attribute("data-state") == "answer"
        assert "Das ist eine 8!" in shown_text(page.get_by_test_id("answer"))
        assert page.get_by_role("combobox", name="Sprache").input_value() == "de"
        assert page.title() == said_by(page, "page.title")
        walk = Walk(page, "de")
        walk.look("the answer, switched")
        page.get_by_test_id("tab-teach").click()
        walk.look("teach mode, switched")
        assert not walk.found, json.dumps(walk.found, ensure_ascii=False, indent=1)

        page.reload()  # the browser still says English: the choice is kept
        page.wait_for_selector("html[data-ready=true]")
        assert page.evaluate("document.documentElement.lang") == "de"
        assert page.get_by_test_id("tab-draw").inner_text() == "Zeichnen"
        page.get_by_test_id("language").select_option("ja")
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        assert page.get_by_test_id("tab-draw").inner_text() == "書く"
        page.reload()
        page.wait_for_selector("html[data-ready=true]")
        assert page.evaluate("document.documentElement.lang") == "ja"
        assert page.get_by_test_id("tab-draw").inner_text() == "書く"
        assert not page.js_errors, page.js_errors

        page.goto(f"{service.base_url}/console")  # the review console follows the choice made on the page
        page.wait_for_selector("html[data-ready=true]")
        assert page.evaluate("document.documentElement.lang") == "ja"
        assert page.title() == "Inkling — レビューコンソール"
        assert page.locator("#login-title").inner_text() == "サインインしてレビュー"
        assert page.get_by_test_id("sign-out").get_attribute("data-i18n") == "console.page.sign_out"
        assert page.evaluate("[...window.__i18nMissing]") == []
    finally:
        page.context.close()


# --- the service's errors, and plurals -----------------------------------------------------------------------


def test_errors_and_plurals_in_the_chosen_language(browser, service, requests_seen):
    """In Russian (chosen with the picker): the service's 4xx and 503 are said from the catalogue by their code (a
    code it has no words for, by the status), never in the service's English; a save refused as too fast likewise; and "your N drawings" takes the form
    Russian needs for 1, 2 and 5 (рисунок, рисунка, рисунков)."""
    page = open_page(browser, service, requests_seen, language="ru", locale="en-US")
    try:
        assert page.evaluate("document.documentElement.lang") == "ru"
        fake = Service(page)
        error = page.get_by_test_id("error")
        message = error.get_by_test_id("error-message")
        fake.fail = {"status": 422, "json": {"detail": SERVER_SAYS[2], "code": "invalid_strokes"}}
        draw_strokes(page, SEVEN)
        expect(error).to_be_visible()
        assert shown_text(message) == "Не удалось прочитать штрихи этого рисунка. Очистите поле и нарисуйте его заново."
        fake.fail = {"status": 409, "json": {"detail": SERVER_SAYS[4], "code": "no_words_for_this"}}  # a code not in the catalogue
        page.get_by_test_id("clear").click()
        draw_strokes(page, SEVEN)
        expect(message).to_have_text("Запрос не понят.")  # errors.http_400: the page's words, not the service's
        fake.fail = {"status": 503, "headers": {"Retry-After": "5"}, "json": {"detail": SERVER_SAYS[1], "code": "storage_unavailable"}}
        page.get_by_test_id("clear").click()
        draw_strokes(page, SEVEN)
        expect(message).to_have_text("Хранилище сейчас недоступно.")
        expect(error).to_contain_text(re.compile(r"через [345] секунд"))  # the countdown, "5 секунд" down to "3 секунды"
        words = shown_text(page.locator("body")).lower()
        assert not [s for s in SERVER_SAYS if s.lower() in words]
        fake.fail = None

        said = {}
        for n in (1, 2, 5):
            fake.answer = {**ANSWER, "personalised_by": n}
            page.get_by_test_id("clear").click()
            draw_strokes(page, SEVEN)
            answered(page)
            page.get_by_test_id("forget").click()
            ask = page.get_by_test_id("forget-ask")
            expect(ask).to_be_visible()
            said[n] = shown_text(ask)
            page.get_by_test_id("forget-keep").click()
        assert "Ваш рисунок останется" in said[1], said[1]
        assert "Ваши 2 рисунка останутся" in said[2], said[2]
        assert "Ваши 5 рисунков останутся" in said[5], said[5]
        assert said_by(page, "errors.retry_in", seconds=1) == "Повторить можно через 1 секунду."
        assert said_by(page, "errors.retry_in", seconds=2) == "Повторить можно через 2 секунды."
        assert said_by(page, "errors.retry_in", seconds=5) == "Повторить можно через 5 секунд."
        assert said_by(page, "errors.retry_in", seconds=21) == "Повторить можно через 21 секунду."

        fake.refuse = 1  # a save refused as too fast: said in Russian too
        page.get_by_test_id("feedback-wrong").click()
        with page.expect_response(lambda r: r.url.endswith("/api/drawings")) as refused:
            page.get_by_test_id("digit-3").click()
        assert refused.value.status == 429
        status = page.get_by_test_id("feedback-status")
        expect(status).to_be_visible()
        assert shown_text(status) in {said_by(page, "feedback.too_fast", seconds=s).replace("\u00a0", " ") for s in (1, 2)}
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


# --- an alphabet in a language of the page's --------------------------------------------------------------


def test_an_alphabet_in_japanese_opens_the_page_in_japanese(browser, service, requests_seen):
    """A deployment whose alphabet says it is written in Japanese (hiragana's ``lang``, from GET /api/config)
    speaks Japanese to a browser set to English (a learner's may well be) or to nothing the page speaks; a
    browser set to German gets German; a choice made with the picker wins. The config is the digits service's,
    its alphabet's language changed on the way to the page (tests/test_browser_hiragana.py runs a real hiragana
    service, in English as its tests choose); the last cases ask js/i18n.js's startLanguage itself."""

    def japanese_alphabet(route):
        config = route.fetch().json()
        config["alphabet"]["lang"] = "ja"
        route.fulfill(json=config)

    for locale, lang in (("en-US", "ja"), ("de-DE", "de")):
        page = open_page(browser, service, requests_seen, language=None, locale=locale,
                         before=lambda context: context.route("**/api/config", japanese_alphabet))
        try:
            assert page.evaluate("document.documentElement.lang") == lang, locale
            assert page.get_by_test_id("tab-draw").inner_text() == said_by(page, "page.tab_draw")
            assert page.evaluate("[...window.__i18nMissing]") == []
            if lang == "ja":
                chosen = page.evaluate("""async (cases) => {
                    const i18n = await import('/js/i18n.js');
                    return cases.map(([alphabetLanguage, wanted, chosen]) => i18n.startLanguage({alphabetLanguage, wanted, chosen}));
                }""", [["ja", ["pt-BR"], None], ["ja", ["en-GB", "de"], None], ["ja", ["fr-FR", "en"], None],
                       ["ja", ["ja-JP"], "en"], ["ja", [], None], [None, ["pt-BR"], None], [None, ["pt-BR"], "ru"]])
                assert chosen == ["ja", "ja", "fr", "en", "ja", "en", "ru"]
        finally:
            page.context.close()
