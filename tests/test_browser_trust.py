"""Issue 22, the page side: answers a person can trust, in a real browser (Chromium through Playwright).

What is not a digit is answered "can't tell", in the page's own words, with the best guess beside it;
several digits are asked for one at a time; the writer's memory votes on a card of its own; the numbers
are explained ("How to read this"); teaching fits one screen of a phone and of a laptop; and the small
things: one rate-limit message by Save, Forget that asks and can be undone, Save only with a drawing, an
honest stats page, a clear idle page, focus kept where the person was.

Layout is measured with ``bounding_box()`` against the viewport on the two screens the issue was tried on
(``SCREENS``: 1280x800, and a 390x844 phone used by touch); the positions measured are kept in
``artifacts/positions/`` beside the screenshots (``artifacts/screenshots/``).
"""

from __future__ import annotations

import base64
import json
import re
import time

import numpy as np
import pytest

from tests.browser_pages import (  # the fixtures: tests/conftest.py registers them
    clear_pad, draw_strokes, is_focused, on_screen, open_screen, pad, pad_is_empty, tab,
)
from inkling_testkit.live_service import PROJECT_ROOT, LiveService

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_request_leaves_the_origin")]

playwright_sync = pytest.importorskip("playwright.sync_api")
httpx = pytest.importorskip("httpx")
expect = playwright_sync.expect

from tests.test_browser import (  # after the importorskips: that module needs Playwright too
    AXE_PATHS, MODELS, answer, axe_violations, panel, picker, predict_png, shot, wait_for_prediction,
)

POSITIONS = PROJECT_ROOT / "artifacts" / "positions"
ENV = {"INKLING_DRAWINGS_BURST": "200", "INKLING_DRAWINGS_PER_MINUTE": "6000"}


# --- drawings, in canvas pixels (280 square) ----------------------------------------------------


def line(*points) -> np.ndarray:
    """A stroke through ``points``, sampled every few pixels as a pen would be."""
    points = np.asarray(points, float)
    return np.concatenate([np.linspace(a, b, 12) for a, b in zip(points[:-1], points[1:])])


LETTER_A = [line((60, 240), (140, 40), (220, 240)), line((95, 160), (185, 160))]
SCRIBBLE = [np.clip(np.cumsum(np.random.default_rng(3).normal(0, 25, (40, 2)), axis=0) + 140, 10, 270)]
_t = np.linspace(0, 2 * np.pi, 60)
SMILEY = [140 + 90 * np.stack([np.cos(_t), np.sin(_t)], axis=1), line((108, 108), (112, 112)),
          line((168, 108), (172, 112)), line((100, 170), (140, 195), (180, 170))]
SHAPES = {"letter A": LETTER_A, "smiley": SMILEY, "scribble": SCRIBBLE}


def pen_digits():
    from lab.data import load_pendigits

    try:
        return load_pendigits("test")
    except Exception as error:  # MissingDataError: the shared data folder is not there
        pytest.skip(f"pendigits test set unavailable: {error}")


def digit_strokes(digit) -> list[np.ndarray]:
    """A pen digit's strokes in canvas pixels, as lab.render.render_pendigit draws it."""
    from lab.render import PENDIGITS_VIEW

    points = np.concatenate(digit.strokes)
    shift = PENDIGITS_VIEW / 2 - (points.min(axis=0) + points.max(axis=0)) / 2
    return [(stroke + shift) * 280 / PENDIGITS_VIEW for stroke in digit.strokes]


def several_strokes(digits) -> list[np.ndarray]:
    """Two pen digits side by side (lab.outliers.side_by_side), in canvas pixels."""
    from lab.outliers import side_by_side
    from models.alphabets import load_alphabet

    return side_by_side([d.strokes for d in digits], [0.3, 0.0], load_alphabet("digits").canvas)


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    pytest.importorskip("service.app")
    with LiveService(tmp_path_factory.mktemp("inkling-browser-trust"), env=ENV) as svc:
        yield svc


@pytest.fixture(scope="module")
def digits(client):
    """Pen digits the ensemble answers right (by label), and two side by side that it asks to draw one at a time."""
    from lab.render import render_pendigit, render_strokes

    found, pairs = {}, pen_digits()
    for label in (5, 3, 7, 2, 4):
        for digit in [d for d in pairs if d.label == label][:15]:
            body = predict_png(client, render_pendigit(digit))
            if body["answer"]["label"] == label and body["answer"]["agree"] == 4:
                found[label] = digit
                break
    assert {5, 3, 7} <= set(found), found
    several = None
    for a, b in [(3, 7), (2, 5), (4, 1), (6, 8), (9, 0)]:
        first = next(d for d in pairs if d.label == a)
        second = next(d for d in pairs if d.label == b)
        if predict_png(client, render_strokes(several_strokes([first, second])))["answer"]["why"] == "several":
            several = [first, second]
            break
    assert several, "no pair of pen digits side by side was answered 'several'"
    return {**found, "several": several}


@pytest.fixture
def screen(request, browser, service, requests_seen):
    """A fresh page (a writer of its own) on the screen the test is parametrised with."""
    page = open_screen(browser, service, requests_seen, request.param)
    page.screen = request.param
    yield page
    assert not page.js_errors, page.js_errors
    page.context.close()


BOTH = pytest.mark.parametrize("screen", ["desktop", "phone"], indirect=True)
DESKTOP_ONLY = pytest.mark.parametrize("screen", ["desktop"], indirect=True)
PHONE_ONLY = pytest.mark.parametrize("screen", ["phone"], indirect=True)


# --- what is on the page, found by role, name or text ----------------------------------------------


def right_button(page, **options):
    return page.get_by_role("button", name=re.compile(r"^Right\b"), **options)


def wrong_button(page, **options):
    return page.get_by_role("button", name="Wrong", exact=True, **options)


def choose_button(page, **options):
    """What a "can't tell" answer offers instead of Right and Wrong."""
    return page.get_by_role("button", name="Choose what it is", exact=True, **options)


def picker_button(page, label: int):
    return picker(page).get_by_role("button", name=f"I drew {'an' if label == 8 else 'a'} {label}", exact=True)


def teach_button(page, label: int):
    return page.get_by_role("radio", name=re.compile(rf"^Teach the digit {label}(?: \(|$)"), include_hidden=True)


def save_button(page, **options):
    return page.get_by_role("button", name=re.compile(r"^Save\b(?! number)"), **options)  # teach mode's


def memory_card(page, **options):
    """The fifth card: what the writer's own memory votes."""
    return page.get_by_role("article", name="Your handwriting", exact=True, **options)


def explainer(page, **options):
    return page.get_by_role("dialog", name="How to read this", **options)


def forget_button(page):
    return page.get_by_role("button", name="Forget my handwriting", include_hidden=True)


def teach_count(page):
    return page.get_by_test_id("teach-count")


def save_status(page):
    """The line by Save that says when it may be used again (no role: found by test id)."""
    return page.get_by_test_id("save-status")


def record(name: str, positions: dict) -> None:
    """Keeps measured positions for people to read (artifacts/positions/<name>.json)."""
    POSITIONS.mkdir(parents=True, exist_ok=True)
    (POSITIONS / f"{name}.json").write_text(json.dumps(positions, indent=1))


def teach_memory(client, page, digits, labels) -> str:
    """Gives this page's writer a memory: a pen digit of each label in ``labels``, saved through the API."""
    from lab.render import render_pendigit

    writer = page.evaluate("() => localStorage.getItem('inkling.writer')")
    for label in labels:
        png = render_pendigit(digits[label] if label in digits else next(d for d in pen_digits() if d.label == label))
        saved = client.post("/api/drawings", json={"image": data_url(png), "label": label, "train": True, "writer": writer})
        assert saved.status_code == 201, saved.text
    return writer


def mocked_answer(page, change):
    """Routes POST /api/predict through the real service, with the answer changed by ``change(body)``."""

    def handler(route):
        body = route.fetch().json()
        change(body)
        route.fulfill(json=body)

    page.route("**/api/predict", handler)


def assert_no_serious_violations(page, state: str) -> None:
    if AXE_PATHS:
        found = axe_violations(page)
        assert not found, (state, found)


# --- 1. "can't tell" -----------------------------------------------------------------------------


@BOTH
def test_a_letter_is_answered_cant_tell_with_the_best_guess(screen):
    page = screen
    draw_strokes(page, LETTER_A)
    said = wait_for_prediction(page)["answer"]
    assert said["label"] is None and said["why"] == "not_a_character", said
    card = answer(page)
    assert card.get_attribute("data-state") == "unsure" and card.get_attribute("data-why") == "not_a_character"
    text = card.inner_text()
    assert "I can't tell what this is" in text
    assert "doesn't look like a digit" in text
    best = said["best"]
    article = "an" if best["label"] == 8 else "a"
    assert f"If it is one, it looks most like {article} {best['label']}." in text, text  # the best guess, still there
    assert "It's" not in text and "sure" not in text  # not "can't tell" beside "100% sure"
    # no Right to press; a way to say what it is instead, on screen
    assert right_button(page, include_hidden=True).is_hidden()
    choose = choose_button(page)
    assert choose.is_enabled()
    where = on_screen(page, choose)
    assert where["inside"], where
    assert page.evaluate("scrollY") == 0
    for name in MODELS:  # the best guesses are still there, model by model
        assert page.get_by_test_id(f"model-{name}").get_by_role("listitem").count() == 3
    shot(page, f"cant-tell-{page.screen}")
    assert_no_serious_violations(page, "can't tell")


@pytest.mark.parametrize("shape", ["smiley", "scribble"])
@DESKTOP_ONLY
def test_other_shapes_are_answered_cant_tell(screen, shape):
    page = screen
    draw_strokes(page, SHAPES[shape])
    said = wait_for_prediction(page)["answer"]
    assert said["label"] is None and said["why"] == "not_a_character", said
    card = answer(page)
    assert card.get_attribute("data-state") == "unsure" and card.get_attribute("data-why") == "not_a_character"
    assert "I can't tell what this is" in card.inner_text()
    assert said["reason"] not in card.inner_text()  # the page's own words, not the API's sentence


@BOTH
def test_several_digits_are_asked_for_one_at_a_time(screen, digits):
    page = screen
    draw_strokes(page, several_strokes(digits["several"]))
    said = wait_for_prediction(page)["answer"]
    assert said["why"] == "several", said
    card = answer(page)
    assert card.get_attribute("data-why") == "several"
    assert "One digit at a time, please" in card.inner_text()
    assert "several digits side by side" in card.inner_text()
    assert right_button(page, include_hidden=True).is_hidden()
    where = on_screen(page, choose_button(page))
    assert where["inside"], where
    shot(page, f"several-{page.screen}")
    assert_no_serious_violations(page, "several")


@DESKTOP_ONLY
def test_unsure_says_the_models_disagree(screen, digits):
    page = screen

    def unsure(body):
        body["answer"].update(label=None, digit=None, glyph=None, why="unsure", reason="No label is sure enough.",
                              p=0.41, agree=2, best={"label": 3, "digit": 3, "glyph": "3", "p": 0.41})

    mocked_answer(page, unsure)
    draw_strokes(page, digit_strokes(digits[5]))
    wait_for_prediction(page)
    text = answer(page).inner_text()
    assert "I'm not sure what this is" in text, text
    assert "Best guess: a 3" in text and "41% sure" in text and "2 of 4 models agree" in text, text
    assert "No label is sure enough" not in text  # the page says it in its own words
    assert_no_serious_violations(page, "unsure")


@DESKTOP_ONLY
def test_a_cant_tell_drawing_can_still_be_labelled(screen):
    page = screen
    draw_strokes(page, LETTER_A)
    wait_for_prediction(page)
    choose_button(page).click()
    assert picker(page).is_visible()
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
        picker_button(page, 4).click()
    assert saved.value.status == 201 and saved.value.request.post_data_json["label"] == 4
    page.get_by_test_id("learned").wait_for(state="visible")
    assert pad_is_empty(page)


# --- 2. the personal answer, and the memory's vote --------------------------------------------------


@DESKTOP_ONLY
def test_the_memory_votes_on_a_card_of_its_own(screen, client, digits):
    page = screen
    draw_strokes(page, digit_strokes(digits[3]))
    assert wait_for_prediction(page)["answer"]["memory"] is None
    assert memory_card(page, include_hidden=True).is_hidden()  # no memory: no vote to show
    clear_pad(page)
    teach_memory(client, page, digits, [5, 5, 3])
    draw_strokes(page, digit_strokes(digits[5]))
    said = wait_for_prediction(page)["answer"]
    assert said["memory"] and said["memory"]["label"] == 5, said
    card = memory_card(page)
    assert card.is_visible()
    assert card.locator(".memory-vote").inner_text() == "5"
    assert "votes" in card.inner_text()
    clear_pad(page)

    def elsewhere(body):  # the "∠": the models say 4, the memory's nearest drawing is a 2
        body["answer"].update(label=4, digit=4, glyph="4", why=None, p=0.86, agree=2, personalised_by=3,
                              best={"label": 4, "digit": 4, "glyph": "4", "p": 0.86},
                              memory={"label": 2, "digit": 2, "glyph": "2"})

    mocked_answer(page, elsewhere)
    draw_strokes(page, digit_strokes(digits[7]))
    wait_for_prediction(page)
    assert card.locator(".memory-vote").inner_text() == "2"
    sub = answer(page).locator(".sub").inner_text()
    assert "2 of 4 models agree" in sub and "86% sure" in sub, sub
    assert "personalised for you" in sub
    shot(page, "memory-card")
    assert_no_serious_violations(page, "the memory's vote")


@DESKTOP_ONLY
def test_articles_and_plurals(screen, digits):
    page = screen

    def eight(body):
        body["answer"].update(label=8, digit=8, glyph="8", why=None, p=0.93, agree=1, personalised_by=0, memory=None,
                              best={"label": 8, "digit": 8, "glyph": "8", "p": 0.93})

    mocked_answer(page, eight)
    page.route("**/api/me", lambda route: route.fulfill(json={"drawings": 1, "counts": [1] + [0] * 9, "capacity": 200,
                                                               "trust": 0.5}))
    page.reload()
    page.wait_for_selector("html[data-ready=true]")
    page.get_by_text("Personalised by your drawing", exact=True).wait_for()
    draw_strokes(page, digit_strokes(digits[3]))
    wait_for_prediction(page)
    assert "It's an 8!" in answer(page).inner_text()
    assert "1 of 4 models agrees" in answer(page).inner_text()
    assert right_button(page).get_attribute("aria-label") == "Right, it is an 8"
    assert page.get_by_role("group", name="Is it an 8?").is_visible()
    assert picker(page, include_hidden=True).get_by_role("button", name="I drew an 8", include_hidden=True).count() == 1


# --- 3. a page that explains itself --------------------------------------------------------------


@BOTH
def test_how_to_read_this_is_reachable_from_the_answer_and_the_cards(screen, digits):
    page = screen
    draw_strokes(page, digit_strokes(digits[3]))
    wait_for_prediction(page)
    opener = answer(page).get_by_role("button", name="What does “% sure” mean?")
    opener.click()
    dialog = explainer(page)
    expect(dialog).to_be_visible()
    text = dialog.inner_text()
    for words in ("% sure", "about 9 are right", "FNN", "CNN", "original", "online", "v37", "blue", "can't tell",
                  "Your handwriting"):
        assert words in text, words
    sure = dialog.get_by_role("heading", name="What “% sure” means")
    assert on_screen(page, sure)["inside"]  # opened where the question is answered
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"explainer-{page.screen}")
    assert_no_serious_violations(page, "explainer")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert is_focused(opener)
    # from the cards
    cards = page.get_by_role("button", name="How to read this", exact=True)
    cards.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    assert is_focused(cards)


# --- 4. phone-first teaching ---------------------------------------------------------------------


@BOTH
def test_teaching_fits_one_screen(screen, digits):
    page = screen
    tab(page, "Teach").click()
    teach_button(page, 5).click()
    page.evaluate("window.scrollTo(0, 0)")
    places = {"pad": on_screen(page, pad(page)), "save": on_screen(page, save_button(page))}
    for label in range(10):
        places[f"picker {label}"] = on_screen(page, teach_button(page, label))
    record(f"teach-digits-{page.screen}", places)
    assert all(p["inside"] for p in places.values()), places
    # draw, Save, draw again: nothing moves, nothing to scroll
    for n in (1, 2):
        draw_strokes(page, digit_strokes(digits[5]))
        with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST"):
            save_button(page).click()
        expect(teach_count(page)).to_have_text(f"{n} saved")
        assert page.evaluate("scrollY") == 0
    if page.screen == "phone":
        draw_strokes(page, digit_strokes(digits[5]))
        shot(page, "teach-phone")
    assert_no_serious_violations(page, "teaching")


@BOTH
def test_right_and_wrong_are_never_cut_off(screen, client, digits):
    page = screen
    teach_memory(client, page, digits, [5, 3])
    page.reload()
    page.wait_for_selector("html[data-ready=true]")
    page.get_by_text(re.compile(r"^Personalised by")).wait_for()
    places = {}
    for name, strokes in (("answer", digit_strokes(digits[5])), ("can't tell", LETTER_A),
                          ("several", several_strokes(digits["several"]))):
        clear_pad(page)
        page.evaluate("window.scrollTo(0, 0)")
        draw_strokes(page, strokes)
        said = wait_for_prediction(page)["answer"]
        assert page.evaluate("scrollY") == 0
        buttons = [right_button(page), wrong_button(page)] if said["label"] is not None else [choose_button(page)]
        for button in buttons:
            places[f"{name}: {button.inner_text().strip()}"] = where = on_screen(page, button)
            assert where["inside"], (name, where)
    record(f"feedback-{page.screen}", places)


@BOTH
def test_after_a_correction_the_pad_comes_back(screen, digits):
    page = screen
    draw_strokes(page, digit_strokes(digits[7]))
    wait_for_prediction(page)
    wrong_button(page).click()
    choice = picker_button(page, 1)
    expect(choice).to_be_in_viewport()  # the picker is brought to the person
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST"):
        choice.click()
    page.get_by_test_id("learned").wait_for(state="visible")
    expect(pad(page)).to_be_in_viewport(ratio=1)
    place = on_screen(page, pad(page))
    record(f"after-correction-{page.screen}", {"pad": place})
    assert place["inside"], place
    assert is_focused(pad(page))


# --- 5. the small things ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A service with the drawing limit a quick teacher meets: 3 at once, then one every 4 s."""
    pytest.importorskip("service.app")
    env = {"INKLING_DRAWINGS_BURST": "3", "INKLING_DRAWINGS_PER_MINUTE": "15"}
    with LiveService(tmp_path_factory.mktemp("inkling-browser-limited"), env=env) as svc:
        yield svc


@pytest.mark.parametrize("where", ["desktop", "phone"])
def test_the_rate_limit_says_one_thing_by_save(browser, limited, digits, where):
    asked = []  # this service has an origin of its own: its requests are checked here
    page = open_screen(browser, limited, asked, where)
    try:
        tab(page, "Teach").click()
        teach_button(page, 5).click()
        statuses = []
        for n in range(1, 5):
            draw_strokes(page, digit_strokes(digits[5]))
            with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as sent:
                save_button(page).click()
            statuses.append(sent.value.status)
            if sent.value.status == 429:
                break
        assert statuses[-1] == 429, statuses
        saved = statuses.count(201)
        status = save_status(page)
        expect(status).to_be_visible()
        said = status.inner_text()
        assert re.fullmatch(r"Saving too fast\. Save works again in \d+\ss\.", said), said
        assert page.get_by_role("alert").filter(has_text=re.compile("wait|retry", re.I)).count() == 0  # said once
        assert save_button(page).is_disabled()
        expect(teach_count(page)).to_have_text(f"{saved} saved")
        near, button = on_screen(page, status), on_screen(page, save_button(page))
        record(f"rate-limit-{where}", {"status": near, "save": button})
        assert near["inside"] and button["inside"], (near, button)
        assert abs((near["y"] + near["height"] / 2) - (button["y"] + button["height"] / 2)) < 90, (near, button)
        shot(page, f"rate-limit-{where}")
        assert_no_serious_violations(page, "rate limited")
        expect(save_button(page)).to_be_enabled(timeout=10_000)  # once it may be used again
        assert not pad_is_empty(page)  # the drawing waited on the pad
        with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as sent:
            save_button(page).click()
        assert sent.value.status == 201
        expect(teach_count(page)).to_have_text(f"{saved + 1} saved")
        assert not page.js_errors, page.js_errors
        assert all(url.startswith(limited.base_url) for url in asked), asked
    finally:
        page.context.close()


@BOTH
def test_answering_too_fast_is_said_by_the_buttons(screen, digits):
    """The Draw tab's saves meet the same limit: one sentence by Right and Wrong, which wait with the drawing."""
    page = screen
    limited_once = []

    def too_fast(route):
        if limited_once:
            return route.continue_()
        limited_once.append(True)
        route.fulfill(status=429, headers={"Retry-After": "3", "Content-Type": "application/json"},
                      json={"detail": "You are sending drawings quickly; please wait 3 s and send again.", "code": "rate_limited"})

    page.route("**/api/drawings", too_fast)
    draw_strokes(page, digit_strokes(digits[3]))
    wait_for_prediction(page)
    right_button(page).click()
    status = page.get_by_test_id("feedback-status")
    expect(status).to_be_visible()
    assert re.fullmatch(r"Saving too fast\. You can answer again in \d+\ss\.", status.inner_text()), status.inner_text()
    assert "please wait" not in page.locator("main").inner_text()  # the server's sentence is not said beside it
    assert right_button(page).is_disabled() and wrong_button(page).is_disabled()
    assert on_screen(page, status)["inside"]
    assert_no_serious_violations(page, "answering too fast")
    expect(right_button(page)).to_be_enabled(timeout=6000)
    expect(status).to_be_hidden()
    assert not pad_is_empty(page)
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as sent:
        right_button(page).click()
    assert sent.value.status == 201


@DESKTOP_ONLY
def test_forget_asks_first_and_can_be_undone(screen, client, digits):
    page = screen
    deletes = []
    page.on("request", lambda r: deletes.append(time.monotonic()) if r.method == "DELETE" else None)
    writer = teach_memory(client, page, digits, [5, 5])
    page.reload()
    page.wait_for_selector("html[data-ready=true]")
    page.get_by_text("Personalised by 2 of your drawings").wait_for()
    forget = forget_button(page)
    # a Space press on Forget (tabbing past it) asks; it does not forget
    forget.focus()
    page.keyboard.press("Space")
    ask = page.get_by_role("group", name="Forget your handwriting?")
    expect(ask).to_be_visible()
    assert "shared collection" in ask.inner_text() and "no longer linked to you" in ask.inner_text()
    assert is_focused(ask.get_by_role("button", name="Keep it"))
    assert_no_serious_violations(page, "forget: asked")
    ask.get_by_role("button", name="Keep it").click()
    expect(ask).to_be_hidden()
    # forget, then undo within the few seconds it waits
    forget.click()
    ask.get_by_role("button", name="Forget", exact=True).click()
    undo = page.get_by_role("button", name="Undo forgetting")
    expect(undo).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Forgetting"))).to_be_visible()
    assert is_focused(undo)
    assert_no_serious_violations(page, "forget: waiting")
    undo.click()
    page.wait_for_timeout(6500)
    assert deletes == []
    assert client.get("/api/me", headers={"Inkling-Writer": writer}).json()["drawings"] == 2
    expect(page.get_by_text("Personalised by 2 of your drawings")).to_be_visible()
    # and forget for real: sent once the wait is over
    tab(page, "Teach").click()
    expect(teach_button(page, 5)).to_have_attribute("data-taught", "2")
    teach_button(page, 5).click()
    forget.click()
    asked_at = time.monotonic()
    ask.get_by_role("button", name="Forget", exact=True).click()
    page.get_by_text(re.compile(r"^Forgotten")).wait_for(timeout=15_000)
    assert len(deletes) == 1 and deletes[0] - asked_at > 4, deletes
    note = page.get_by_test_id("memory").inner_text()
    assert "shared collection" in note and "no longer linked to you" in note, note
    assert client.get("/api/me", headers={"Inkling-Writer": writer}).json()["drawings"] == 0
    assert teach_button(page, 5).get_attribute("data-taught") is None
    assert "in your memory" not in teach_button(page, 5).get_attribute("aria-label")
    expect(teach_count(page)).to_have_text("0 saved")
    assert page.get_by_text("Your memory knows").is_hidden()
    assert_no_serious_violations(page, "forgotten")


@DESKTOP_ONLY
def test_save_needs_a_drawing_and_nothing_saved_is_not_a_success(screen, digits):
    page = screen
    tab(page, "Teach").click()
    teach_button(page, 5).click()
    assert save_button(page).is_disabled()  # nothing on the pad to save
    count = teach_count(page)
    colours = page.evaluate("""() => { const s = getComputedStyle(document.documentElement);
        return [s.getPropertyValue('--good').trim(), s.getPropertyValue('--muted').trim()]; }""")
    rgb = lambda hex_: "rgb({}, {}, {})".format(*(int(hex_[i:i + 2], 16) for i in (1, 3, 5)))  # noqa: E731
    assert count.evaluate("e => getComputedStyle(e).color") == rgb(colours[1])  # "0 saved" is not green
    draw_strokes(page, digit_strokes(digits[5]))
    assert save_button(page).is_enabled()
    page.get_by_role("button", name="Clear the drawing").click()
    assert save_button(page).is_disabled()
    draw_strokes(page, digit_strokes(digits[5]))
    save_button(page).click()
    expect(count).to_have_text("1 saved")
    assert count.evaluate("e => getComputedStyle(e).color") == rgb(colours[0])


STATS = {
    "counts": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0], "total": 1,
    "online": {name: {"version": 12, "steps": 30, "original_accuracy": 0.993,
                      "history": [{"version": v, "step": 10 * i, "holdout_accuracy": a, "time": f"2026-11-27T15:0{i}:00Z"}
                                  for i, (v, a) in enumerate([(4, 0.993), (8, 0.991), (12, 0.995)], start=1)],
                      "rollbacks": []} for name in ("fnn_online", "cnn_online")},
}


@DESKTOP_ONLY
def test_the_stats_are_honest(screen):
    page = screen
    page.route("**/api/stats", lambda route: route.fulfill(json=STATS))
    page.route("**/api/drawings?*", lambda route: route.fulfill(json={"items": [], "next_cursor": None}))
    tab(page, "Stats").click()
    stats = panel(page, "Stats")
    chart = stats.get_by_role("article").filter(has=page.get_by_role("heading", name=re.compile("holdout accuracy"))).first
    chart.locator("svg .series").wait_for()
    ticks = [float(t.rstrip("%")) for t in chart.locator("svg .tick.y").all_text_contents()]
    assert min(ticks) <= 90 and max(ticks) == 100, ticks  # a 0.4-point dip stays small
    assert chart.locator(".key-rollback").count() == 0  # no rollback, no rollback in the legend
    glossary = stats.get_by_test_id("stats-terms").inner_text()
    assert "holdout" in glossary.lower() and "learn step" in glossary.lower(), glossary
    # one drawing counted, none shown: the page says why
    expect(stats.get_by_text("1 drawing so far", exact=False)).to_be_visible()
    assert "stored without training" in stats.get_by_role("list", name="Latest drawings").inner_text()
    shot(page, "stats-honest", full_page=True)
    assert_no_serious_violations(page, "stats")


@BOTH
def test_the_idle_page_is_clear(screen):
    page = screen
    assert answer(page).get_attribute("data-state") == "empty"
    assert "Draw a digit" in answer(page).inner_text()
    cards = page.get_by_test_id("models")
    assert cards.locator(".placeholder, .g-bar").count() == 0  # nothing that looks like loading
    assert "learns from" in cards.inner_text() and "trained offline" in cards.inner_text()
    assert page.get_by_role("img", name="The 28 by 28 pixel image the models saw", include_hidden=True).is_hidden()
    shot(page, f"idle-{page.screen}")
    assert_no_serious_violations(page, "idle")


@DESKTOP_ONLY
def test_focus_stays_with_the_person(screen, digits):
    page = screen
    draw_strokes(page, digit_strokes(digits[3]))
    wait_for_prediction(page)
    right_button(page).focus()
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST"):
        page.keyboard.press("Enter")
    page.get_by_test_id("learned").wait_for(state="visible")
    assert is_focused(pad(page)), page.evaluate("document.activeElement.outerHTML.slice(0, 80)")
    draw_strokes(page, digit_strokes(digits[7]))
    wait_for_prediction(page)
    wrong_button(page).focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST"):
        page.keyboard.press("Enter")
    page.get_by_test_id("learned").wait_for(state="visible")
    assert is_focused(pad(page))
    draw_strokes(page, digit_strokes(digits[5]))
    wait_for_prediction(page)
    wrong_button(page).click()
    picker(page).get_by_role("button", name="Not a digit").click()
    assert is_focused(pad(page))
    tab(page, "Teach").click()
    teach_button(page, 5).click()
    draw_strokes(page, digit_strokes(digits[5]))
    save_button(page).focus()
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST"):
        page.keyboard.press("Enter")
    expect(teach_count(page)).to_have_text("1 saved")
    assert is_focused(save_button(page, include_hidden=True))


@DESKTOP_ONLY
def test_the_pad_can_be_focused_and_says_it_needs_a_pointer(screen):
    page = screen
    page.get_by_role("button", name="Clear the drawing").evaluate("b => b.blur()")
    page.locator("body").evaluate("b => b.focus()")
    for _ in range(30):
        page.keyboard.press("Tab")
        if is_focused(pad(page)):
            break
    assert is_focused(pad(page)), "Tab never reaches the pad"
    hint = page.get_by_text("Drawing needs a mouse, a finger or a pen")
    expect(hint).to_be_visible()
    assert "Drawing needs a mouse" in page.evaluate(
        "() => document.getElementById(document.activeElement.getAttribute('aria-describedby')).textContent")


# --- one message catalogue --------------------------------------------------------------------------


def catalogue_keys(node, prefix="") -> set[str]:
    """Every message key of a catalogue (a message is a string, or an object with "plural" or "select")."""
    keys = set()
    for key, value in node.items():
        if key.startswith("_"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, str) or "plural" in value or "select" in value:
            keys.add(name)
        else:
            keys |= catalogue_keys(value, f"{name}.")
    return keys


@DESKTOP_ONLY
def test_every_word_of_the_page_is_in_the_catalogue(screen):
    """The keys the page asks for (t("..."), tn("..."), data-i18n*) are all in i18n/en.json, and every key there is used;
    the page shows no key in place of words."""
    assert not re.search(r"\b(page|pad|answer|feedback|models|teach|memory|stats|explain|common)\.[a-z_]+\b",
                         screen.locator("body").inner_text())
    frontend = PROJECT_ROOT / "frontend"
    catalogue = json.loads((frontend / "i18n" / "en.json").read_text(encoding="utf-8"))
    assert "_notes" in catalogue  # what a translator must know
    known = catalogue_keys(catalogue)
    # the page's modules and the review console's (console/*.js, which keeps its words under "console.")
    source = "\n".join(p.read_text(encoding="utf-8") for folder in ("js", "console") for p in (frontend / folder).glob("*.js"))
    html = "\n".join((frontend / page).read_text(encoding="utf-8") for page in ("index.html", "console/index.html"))
    asked = set(re.findall(r"\btn?\(\s*\"([a-z_]+(?:\.[a-z_0-9]+)+)\"", source))
    asked |= set(re.findall(r'data-i18n(?:-(?!param)[a-z-]+)?="([a-z_.0-9]+)"', html))
    # keys made from a name: models.about.<model>, activations.legend.<layer>, errors.http_<status>
    made = {k for k in known if re.match(r"(models\.about|activations\.legend)\.", k) or re.match(r"errors\.http_\d+$", k)
            # the console's words for a status, a reason, an action, a review: console.<group>.<name>
            or re.match(r"console\.(status|reasons|actions|done|login|audit\.verb|audit\.entry|promotions\.state)\.[a-z_]+$", k)}
    mentioned = set(re.findall(r"\"([a-z_]+(?:\.[a-z_0-9]+)+)\"", source))  # t(cond ? "a.b" : "a.c"), key: "..."
    made |= {k for k in known if re.match(r"(alphabets|models\.titles|errors\.code)\.", k)}  # by alphabet, model, error code
    assert not asked - known, f"asked for but not in the catalogue: {sorted(asked - known)}"
    assert not known - asked - mentioned - made, f"in the catalogue but never used: {sorted(known - asked - mentioned - made)}"
    # no sentence left in the modules: every string a person reads goes through t() or tn()
    leftovers = [line.strip() for line in source.splitlines()
                 if re.search(r'(textContent|ariaLabel|title|alt)\s*=\s*[`"][A-Z][a-z]+ [a-z]', line)
                 or re.search(r'setAttribute\("(aria-label|title|alt)",\s*[`"][A-Z][a-z]+ ', line)]
    assert not leftovers, leftovers


# --- the main states, for people to look at ----------------------------------------------------------


def test_screenshots_of_the_main_states(browser, service, requests_seen, client, digits):
    """artifacts/screenshots/main-*.png: idle, an answer (personalised, with the memory's vote), can't tell,
    several, stats on a 1280x800 laptop, and teaching on a 390x844 phone. docs/screenshot.png is made from
    main-answer.png."""
    page = open_screen(browser, service, requests_seen, "desktop")
    try:
        clear_pad(page)
        shot(page, "main-idle")
        teach_memory(client, page, digits, [3, 3, 5])
        page.reload()
        page.wait_for_selector("html[data-ready=true]")
        draw_strokes(page, digit_strokes(digits[3]))
        assert wait_for_prediction(page)["answer"]["label"] == 3
        memory_card(page).wait_for()
        page.wait_for_timeout(400)  # the feature maps, below the fold, settle
        shot(page, "main-answer")
        for name, strokes in (("main-cant-tell", LETTER_A), ("main-several", several_strokes(digits["several"]))):
            clear_pad(page)
            draw_strokes(page, strokes)
            assert wait_for_prediction(page)["answer"]["label"] is None
            shot(page, name)
        tab(page, "Stats").click()
        page.get_by_test_id("counts-chart").locator("svg").wait_for()
        shot(page, "main-stats", full_page=True)
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()
    phone = open_screen(browser, service, requests_seen, "phone")
    try:
        tab(phone, "Teach").click()
        teach_button(phone, 5).click()
        draw_strokes(phone, digit_strokes(digits[5]))
        shot(phone, "main-teach-phone")
        assert not phone.js_errors, phone.js_errors
    finally:
        phone.context.close()
