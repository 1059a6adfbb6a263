"""The page for a hiragana deployment (INKLING_ALPHABET=hiragana), in a real browser.

Chromium (Debian's) driven by Playwright against the real service, as in
tests/test_browser.py, whose helpers it uses. The page builds itself from
GET /api/config: a 71-glyph picker laid out like the kana table (5 columns,
gaps in the や and わ rows), the answer and the model cards naming glyphs,
the stats chart and gallery filter one entry per character. Characters are
drawn from their KanjiVG strokes (lab.kana.clean_drawing, in canvas
pixels) mapped onto the pad's on-screen box and replayed with the mouse (and
with touch on a phone-sized page). Every request is recorded; none may leave
the service's origin, and the page may raise no JS error.

Screenshots go to ``artifacts/screenshots/hiragana-*.png``.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from inkling_testkit.live_service import LiveService

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_request_leaves_the_origin")]

playwright_sync = pytest.importorskip("playwright.sync_api")
httpx = pytest.importorskip("httpx")
expect = playwright_sync.expect

from tests.browser_pages import (
    DESKTOP, PHONE, draw_strokes, is_focused, on_screen, open_page, open_screen, pad, pad_is_empty, replay_with_mouse,
    replay_with_touch, tab,
)
from tests.test_browser import (  # after the importorskips: that module needs Playwright too
    AXE_PATHS,
    MODELS,
    answer,
    assert_accessible,
    axe_violations,
    counts_chart,
    gallery,
    model_card,
    panel,
    picker,
    right_button,
    shot,
    stroke_guide,
    teach_save,
    wait_for_prediction,
    wrong_button,
)

N_KANA = 71
ENV = {"INKLING_ALPHABET": "hiragana", "INKLING_DRAWINGS_BURST": "200", "INKLING_DRAWINGS_PER_MINUTE": "6000"}
# Clean characters to try for "drawn and read right" (あ first: the one the page is shown with).
READ_RIGHT = "あいうかきくさしつ"


def missing_hiragana_files() -> list[str]:
    """The hiragana alphabet's weights and sample that are not there (they are trained, then committed)."""
    from models.alphabets import load_alphabet

    alphabet = load_alphabet("hiragana")
    return [str(p) for p in (*alphabet.weights.values(), alphabet.sample) if not p.is_file()]


def kana():
    from lab import kana
    from lab.data import MissingDataError

    try:
        kana.clean_drawing("あ")
    except MissingDataError as error:  # the KanjiVG stroke templates are not installed
        pytest.skip(f"the KanjiVG strokes are not available: {error}")
    return kana


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    missing = missing_hiragana_files()
    if missing:
        pytest.skip(f"the hiragana weights are not trained yet (missing {', '.join(missing)}): "
                    "train them (lab/kana.py) to run these tests")
    with LiveService(tmp_path_factory.mktemp("inkling-browser-hiragana"), env=ENV) as svc:
        yield svc


@pytest.fixture(scope="module")
def config(client) -> dict:
    return client.get("/api/config").json()


# --- characters ---------------------------------------------------------------------------


def screen_strokes(page, strokes, canvas_size: int) -> list[np.ndarray]:
    """Strokes in canvas pixels, in page (CSS) pixels on the pad's on-screen box."""
    box = pad(page).bounding_box()
    scale = np.array([box["width"], box["height"]]) / canvas_size
    origin = np.array([box["x"], box["y"]])
    return [stroke * scale + origin for stroke in strokes]


def draw_with_mouse(page, strokes, canvas_size: int) -> None:
    replay_with_mouse(page, screen_strokes(page, strokes, canvas_size))


def draw_with_touch(page, strokes, canvas_size: int) -> None:
    replay_with_touch(page, screen_strokes(page, strokes, canvas_size))


def predict_strokes(client, strokes) -> dict:
    import base64

    png = kana().render_kana(strokes)
    response = client.post("/api/predict", json={"image": "data:image/png;base64," + base64.b64encode(png).decode()})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def chosen(client, config):
    """Characters picked through the API before any drawing is saved.

    ``good``: a clean character (あ if it is) that the ensemble reads right;
    ``misread``: a character the ensemble answers wrongly (drawn small and slanted to find one if every
    clean one is read right), for correcting through Wrong and the picker. One it cannot tell is not
    taken: the page asks what it is instead of offering Right and Wrong.
    """
    k = kana()
    glyphs = [entry["glyph"] for entry in config["labels"]]
    good = None
    for char in READ_RIGHT:
        answer = predict_strokes(client, k.clean_drawing(char))["answer"]
        if answer["label"] == glyphs.index(char):
            good = char
            break
    assert good is not None, f"no clean character of {READ_RIGHT} was read right"
    misread = None
    tilt = np.array([[1.0, 0.35], [0.0, 1.0]])
    for char in k.HIRAGANA:
        for size in (0.68, 0.3):
            strokes = k.clean_drawing(char, size=size)
            if size != 0.68:  # small and slanted, off to a corner
                strokes = [s @ tilt.T * np.array([1.0, 0.8]) + np.array([-20.0, 40.0]) for s in strokes]
            answer = predict_strokes(client, strokes)["answer"]
            if answer["label"] is not None and answer["label"] != glyphs.index(char):
                misread = (char, strokes)
                break
        if misread:
            break
    if misread is None:  # every one read right: correct one of them all the same
        misread = ("ぬ", k.clean_drawing("ぬ"))
    return {"good": good, "misread": misread}


def picker_buttons(page):
    """The glyph buttons of the picker that Wrong opens ("I drew あ")."""
    return picker(page).get_by_role("button", name=re.compile(r"^I drew "))


def picker_button(page, glyph: str):
    return picker(page).get_by_role("button", name=f"I drew {glyph}", exact=True)


def teach_buttons(page):
    """Teach mode's glyph radios ("Teach the character あ")."""
    return panel(page, "Teach").get_by_role("radiogroup").get_by_role("radio")


def teach_button(page, glyph: str):
    return page.get_by_role("radio", name=re.compile(rf"^Teach the character {re.escape(glyph)}(?: \(|$)"))


GRIDS = {"picker": picker_buttons, "teach": teach_buttons}


def picker_boxes(page, grid: str) -> dict[int, dict]:
    """The on-screen box of every glyph button of a grid ("picker" or "teach"), by label (its ``data-digit``)."""
    return {
        label: box
        for label, box in GRIDS[grid](page).evaluate_all(
            """els => els.map(e => { const r = e.getBoundingClientRect();
                return [Number(e.dataset.digit), {x: r.x, y: r.y, width: r.width, height: r.height}]; })"""
        )
    }


def assert_kana_table(page, grid: str, config: dict) -> None:
    """The buttons are laid out as alphabet.rows: each row on one line, each cell in its column, gaps kept."""
    rows = config["alphabet"]["rows"]
    boxes = picker_boxes(page, grid)
    assert sorted(boxes) == list(range(N_KANA))
    first = rows[0]
    pitch = boxes[first[1]]["x"] - boxes[first[0]]["x"]
    assert pitch >= 40, pitch
    for row in rows:
        cells = [(c, label) for c, label in enumerate(row) if label is not None]
        c0, start = cells[0]
        assert c0 == 0, row  # every row of the kana table starts in its first column
        for c, label in cells:
            box = boxes[label]
            assert abs(box["y"] - boxes[start]["y"]) < 1, (row, label)
            assert abs(box["x"] - boxes[start]["x"] - c * pitch) < 1.5, (row, label, c)
    # the gaps: ゆ sits in the middle column of its row, を in the last of its
    glyph = {entry["glyph"]: entry["label"] for entry in config["labels"]}
    row_of = {label: r for r, row in enumerate(rows) for label in row if label is not None}
    assert [c for c, label in enumerate(rows[row_of[glyph["ゆ"]]]) if label is None] == [1, 3]
    assert [c for c, label in enumerate(rows[row_of[glyph["を"]]]) if label is None] == [1, 2, 3]
    assert page.locator(".glyph-gap").count() == 2 * sum(cell is None for row in rows for cell in row)  # two pickers


# --- tests -----------------------------------------------------------------------------


def test_the_page_speaks_of_characters(fresh, config):
    page = fresh
    assert config["alphabet"]["name"] == "hiragana" and len(config["labels"]) == N_KANA
    title = page.locator("header").get_by_text(config["alphabet"]["title"], exact=True)  # beside the brand
    assert title.is_visible() and title.inner_text() == config["alphabet"]["title"]
    assert "Draw a character." in page.locator(".tagline").inner_text()
    assert page.title() == "Inkling — draw a character, watch it learn"
    assert "Draw a character — I'll guess as you go." in answer(page).inner_text()
    assert "character" in pad(page).get_attribute("aria-label")
    # the picker's last button (the picker is closed: found hidden)
    closed = picker(page, include_hidden=True)
    assert closed.get_by_role("button", name="Not a digit", include_hidden=True).count() == 0
    assert closed.get_by_role("button", name="None of these", exact=True, include_hidden=True).inner_text() == "None of these"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert "digit" not in page.locator("main").inner_text().lower()
    # Hiragana's "% sure" is calibrated on unseen-style writers (docs/ood.md), and the page says what it means.
    assert config["alphabet"]["calibrated"] and config["alphabet"]["gate"]
    page.get_by_role("button", name="How to read this", exact=True).click()
    dialog = page.get_by_role("dialog", name="How to read this")
    assert "about 9 are right out of every 10" in dialog.inner_text()
    dialog.get_by_role("button", name="Close").click()


def test_teach_mode_shows_the_kana_table(fresh, config, chosen, client):
    page = fresh
    tab(page, "Teach").click()
    teach = panel(page, "Teach")
    assert teach.is_visible()
    buttons = teach.get_by_role("radio")
    assert buttons.count() == N_KANA
    assert_kana_table(page, "teach", config)
    first = buttons.first
    assert first.inner_text() == "あ" and first.get_attribute("lang") == "ja"
    assert first.get_attribute("aria-label") == "Teach the character あ"
    assert first.get_attribute("data-digit") == "0" and first.get_attribute("role") == "radio"
    assert page.get_by_text("Pick a character to start", exact=True).is_visible()  # over the pad
    # the glyphs are set in a Japanese font of the system (the CSP allows no web font)
    family = first.evaluate("b => getComputedStyle(b).fontFamily")
    assert family.startswith('"Hiragino Sans"') and "Noto Sans CJK JP" in family, family

    # keyboard: down keeps to the column, stepping over the gaps (い, き, し, ち, に, ひ, み, then り under the や row's gap)
    glyph = {entry["glyph"]: entry["label"] for entry in config["labels"]}
    teach_button(page, "い").click()
    for expected in "きしちにひみり":
        page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.textContent") == expected
    assert teach_button(page, "り").get_attribute("aria-checked") == "true"

    # teach one ゆ: the saved label is its index
    label = glyph["ゆ"]
    teach_button(page, "ゆ").click()
    assert teach_save(page).inner_text() == "Save this ゆ"
    assert page.get_by_text("Teaching:").inner_text() == "Teaching: ゆ"  # the badge on the pad
    # how ゆ is written: KanjiVG's strokes, drawn one after another and numbered
    guide = stroke_guide(page)
    strokes = config["alphabet"]["strokes"]["paths"][label]
    assert guide.is_visible() and len(strokes) == 2
    assert guide.locator("path.drawn").evaluate_all("ps => ps.map(p => p.getAttribute('d'))") == strokes
    assert guide.locator("text.number").all_text_contents() == ["1", "2"]
    assert guide.get_by_role("img").get_attribute("aria-label") == "How to write ゆ: 2 strokes, in the order numbered"
    assert "ゆ is written in 2 strokes" in guide.inner_text() and "KanjiVG" in guide.inner_text()
    offsets = "figure => [...figure.querySelectorAll('path.drawn')].map(p => parseFloat(getComputedStyle(p).strokeDashoffset))"
    page.wait_for_function(f"figure => ({offsets})(figure).every(o => o < 0.01)", arg=guide.element_handle(),
                           timeout=5000)  # both drawn in the end
    replay = guide.get_by_role("button", name="Show again")
    replay.click()
    assert guide.evaluate(offsets)[1] > 0.99  # drawn again from the start: the second stroke waits its turn
    page.emulate_media(reduced_motion="reduce")  # no animation then: every stroke is there at once
    replay.click()
    assert guide.evaluate(offsets) == [0, 0]
    page.emulate_media(reduced_motion="no-preference")
    draw_with_mouse(page, kana().clean_drawing("ゆ"), config["canvas"]["size"])
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
        teach_save(page).click()
    assert saved.value.status == 201
    assert saved.value.request.post_data_json["label"] == label
    expect(page.get_by_test_id("teach-count")).to_have_text("1 saved")
    shot(page, "hiragana-teach")
    stored = client.get("/api/drawings", params={"label": label}).json()["items"]
    assert saved.value.json()["id"] in {d["id"] for d in stored}


def test_a_drawn_character_is_answered_by_its_glyph(fresh, config, chosen):
    page = fresh
    char = chosen["good"]
    label = [entry["glyph"] for entry in config["labels"]].index(char)
    draw_with_mouse(page, kana().clean_drawing(char), config["canvas"]["size"])
    response = wait_for_prediction(page)
    said = response["answer"]
    assert said["label"] == label and said["glyph"] == char and said["digit"] is None
    shown = answer(page)
    assert shown.get_attribute("data-digit") == str(label)
    assert f"It's {char}!" in shown.inner_text()
    assert shown.locator(".answer-digit").inner_text() == char
    assert shown.locator(".answer-digit").get_attribute("lang") == "ja"
    assert page.get_by_role("group", name=f"Is it {char}?", exact=True).is_visible()  # named by its question
    assert right_button(page).get_attribute("aria-label") == f"Right, it is {char}"
    for name in MODELS:
        guesses = model_card(page, config["titles"][name]).get_by_role("listitem")
        assert guesses.count() == 3
        assert guesses.evaluate_all("els => els.map(e => Number(e.dataset.digit))") == [g["label"] for g in response["models"][name]]
        assert guesses.locator(".g-digit").all_inner_texts() == [g["glyph"] for g in response["models"][name]]
    page.wait_for_timeout(300)  # let the feature maps arrive for the picture
    shot(page, "hiragana-answer")


def test_wrong_then_pick_the_glyph_in_the_picker(fresh, config, chosen, client):
    page = fresh
    char, strokes = chosen["misread"]
    label = [entry["glyph"] for entry in config["labels"]].index(char)
    draw_with_mouse(page, strokes, config["canvas"]["size"])
    wait_for_prediction(page)
    assert wrong_button(page).is_enabled()
    wrong_button(page).click()
    assert picker(page).is_visible()
    assert picker_buttons(page).count() == N_KANA
    assert_kana_table(page, "picker", config)
    assert is_focused(picker_button(page, config["labels"][0]["glyph"]))
    button = picker_button(page, char)
    assert button.inner_text() == char and button.get_attribute("aria-label") == f"I drew {char}"
    button.scroll_into_view_if_needed()
    shot(page, "hiragana-picker")
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
        button.click()
    assert saved.value.status == 201, saved.value.text()
    assert saved.value.request.post_data_json["label"] == label
    body = saved.value.json()
    assert body["stored"]
    learned = page.get_by_test_id("learned")  # the learned card has no role: found by test id
    learned.wait_for(state="visible")
    assert f"from your {char}" in learned.inner_text() or f"Stored your {char}" in learned.inner_text()
    assert f"Saved as {char}" in answer(page).inner_text()
    assert body["id"] in {d["id"] for d in client.get("/api/drawings", params={"label": label}).json()["items"]}
    assert pad_is_empty(page)
    shot(page, "hiragana-learned")


def test_stats_count_and_filter_by_character(fresh, config, client):
    page = fresh
    for _ in range(50):  # /api/stats is cached for a moment; wait until it counts the drawings saved above
        stats = client.get("/api/stats").json()
        if stats["total"] >= 2:
            break
        page.wait_for_timeout(100)
    assert len(stats["counts"]) == N_KANA
    tab(page, "Stats").click()
    chart = counts_chart(page)
    expect(chart.locator(".bar")).to_have_count(N_KANA, timeout=30_000)
    panel(page, "Stats").get_by_text(re.compile(rf"^{stats['total']} drawing")).wait_for()
    values = chart.locator(".bar .value").all_text_contents()
    # the counts the page has, as the chart names them: "Drawings collected per character: あ: 3, い: 0, …"
    named = chart.get_attribute("aria-label").split(": ", 1)[1].split(", ")
    assert [int(v) for v in values] == [int(item.rsplit(": ", 1)[1]) for item in named]
    assert chart.locator(".bar .tick").all_text_contents() == [entry["glyph"] for entry in config["labels"]]
    # readable: the bars wrap into rows rather than shrink, and the chart fits its card
    ticks = chart.locator(".bar .tick").evaluate_all("els => els.map(e => e.getBoundingClientRect().x)")
    assert min(b - a for a, b in itertools.pairwise(ticks) if b > a) >= 20
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # the gallery's filter: every character by its glyph, by label index
    show = page.get_by_label("Show drawings of")
    options = show.locator("option")
    assert options.count() == N_KANA + 1
    assert options.nth(0).inner_text() == "all characters"
    assert options.nth(1).inner_text() == "あ" and options.nth(1).get_attribute("value") == "0"
    label = int(np.argmax(stats["counts"]))
    with page.expect_response(lambda r: "/api/drawings?" in r.url and f"label={label}" in r.url):
        show.select_option(str(label))
    gallery(page).locator("li.drawing").first.wait_for(state="attached")
    captions = gallery(page).locator("li.drawing .label").all_inner_texts()
    assert captions and set(captions) == {config["labels"][label]["glyph"]}
    shot(page, "hiragana-stats", full_page=True)
    show.select_option("")


def test_phone_picker_fits_and_is_touchable(browser, service, requests_seen, config, chosen):
    page = open_page(browser, service, requests_seen, viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    try:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        box = pad(page).bounding_box()  # the pad is whole on screen before drawing
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["y"] + box["height"] <= PHONE["height"]
        draw_with_touch(page, kana().clean_drawing(chosen["good"]), config["canvas"]["size"])
        wait_for_prediction(page)
        assert page.evaluate("[window.scrollX, window.scrollY]") == [0, 0], "drawing scrolled the page"
        wrong_button(page).tap()
        assert picker(page).is_visible()
        for grid in ("picker", "teach"):
            if grid == "teach":
                tab(page, "Teach").tap()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            boxes = picker_boxes(page, grid)
            assert len(boxes) == N_KANA
            small = {label: b for label, b in boxes.items() if b["width"] < 40 or b["height"] < 40}
            assert not small, f"touch targets under 40 px: {small}"
            outside = {label: b for label, b in boxes.items() if b["x"] < 0 or b["x"] + b["width"] > PHONE["width"]}
            assert not outside, f"buttons past the screen's width: {outside}"
            assert_kana_table(page, grid, config)
            if grid == "picker":
                picker(page).scroll_into_view_if_needed()
                shot(page, "hiragana-phone-picker")
        first = teach_button(page, config["labels"][0]["glyph"])
        first.tap()
        assert first.get_attribute("aria-checked") == "true"
        shot(page, "hiragana-phone-teach", full_page=True)
        tab(page, "Stats").tap()
        expect(counts_chart(page).locator(".bar")).to_have_count(N_KANA, timeout=30_000)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, "hiragana-phone-stats", full_page=True)
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_no_serious_accessibility_violations(browser, service, requests_seen, config, chosen, viewport):
    """axe-core over the answer, the open 71-glyph picker, teach mode and stats."""
    if not AXE_PATHS:
        pytest.skip("axe-core is not fetched (scripts/fetch_axe; scripts/install --dev does it)")
    page = open_page(browser, service, requests_seen, viewport=DESKTOP if viewport == "desktop" else PHONE,
                     has_touch=viewport == "phone")
    try:
        assert_accessible(
            page,
            answer=lambda: (draw_with_mouse(page, kana().clean_drawing(chosen["good"]), config["canvas"]["size"]),
                            wait_for_prediction(page)),
            picker=lambda: wrong_button(page).click())
    finally:
        page.context.close()


# --- issue 22: phone-first teaching, "can't tell" in the words of characters, a compact counts chart ----------


@pytest.fixture
def screen(request, browser, service, requests_seen):
    """A fresh page on one of the issue's screens (1280x800, or a 390x844 phone used by touch)."""
    page = open_screen(browser, service, requests_seen, request.param)
    page.screen = request.param
    yield page
    assert not page.js_errors, page.js_errors
    page.context.close()


def record(name: str, positions: dict) -> None:
    from tests.test_browser_trust import record as keep

    keep(name, positions)


@pytest.mark.parametrize("screen", ["desktop", "phone"], indirect=True)
def test_teaching_a_character_fits_one_screen(screen, config):
    """The pad, how the character is written, Save and the way to the next character, all on one screen while
    drawing; picking a character far down the table brings them back."""
    page = screen
    tab(page, "Teach").click()
    choice = teach_button(page, "ゆ")
    choice.scroll_into_view_if_needed()  # far down the table on a phone
    choice.click()
    guide = stroke_guide(page)
    expect(guide).to_be_visible()
    places = {"pad": pad(page), "guide": guide.get_by_role("img"), "save": teach_save(page),
              "next": page.get_by_role("button", name="Next: よ"), "previous": page.get_by_role("button", name="Previous: や")}
    for name, part in places.items():
        expect(part).to_be_in_viewport(ratio=1)
    places = {name: on_screen(page, part) for name, part in places.items()}
    record(f"teach-hiragana-{page.screen}", places)
    assert all(p["inside"] for p in places.values()), places
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # draw it and save it, then the next character: nothing moves
    at = page.evaluate("scrollY")
    draw_strokes(page, kana().clean_drawing("ゆ"), config["canvas"]["size"])
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST"):
        teach_save(page).click()
    expect(page.get_by_test_id("teach-count")).to_have_text("1 saved")
    page.get_by_role("button", name="Next: よ").click()
    assert teach_save(page).inner_text() == "Save this よ"
    assert guide.get_by_role("img").get_attribute("aria-label").startswith("How to write よ")
    assert page.evaluate("scrollY") == at
    shot(page, f"hiragana-teach-{page.screen}")
    found = axe_violations(page) if AXE_PATHS else []
    assert not found, found


@pytest.mark.parametrize("screen", ["phone"], indirect=True)
def test_after_choosing_a_character_the_pad_comes_back(screen, config, chosen):
    page = screen
    char, strokes = chosen["misread"]
    draw_strokes(page, strokes, config["canvas"]["size"])
    said = wait_for_prediction(page)["answer"]
    feedback = [right_button(page), wrong_button(page)] if said["label"] is not None \
        else [page.get_by_role("button", name="Choose what it is")]
    for button in feedback:  # never cut off at the bottom of the phone
        assert on_screen(page, button)["inside"], on_screen(page, button)
    feedback[-1].click()
    expect(picker_buttons(page).first).to_be_in_viewport()  # the 71-glyph picker opens where it can be seen
    button = picker_button(page, char)
    button.scroll_into_view_if_needed()
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST"):
        button.click()
    expect(pad(page)).to_be_in_viewport(ratio=1)
    place = on_screen(page, pad(page))
    record("after-correction-hiragana-phone", {"pad": place})
    assert place["inside"] and is_focused(pad(page))


@pytest.mark.parametrize("screen", ["desktop"], indirect=True)
@pytest.mark.parametrize("why", ["not_a_character", "several", "unsure"])
def test_cant_tell_speaks_of_characters(screen, config, chosen, why):
    page = screen

    def cant_tell(route):
        body = route.fetch().json()
        best = {"label": 0, "digit": None, "glyph": "あ", "p": 0.42}
        body["answer"].update(label=None, digit=None, glyph=None, why=why, reason="(the API's sentence)", p=0.42, agree=2,
                              best=best)
        route.fulfill(json=body)

    page.route("**/api/predict", cant_tell)
    draw_strokes(page, kana().clean_drawing(chosen["good"]), config["canvas"]["size"])
    wait_for_prediction(page)
    text = answer(page).inner_text()
    said = {"not_a_character": "It doesn't look like a Hiragana character to me. If it is one, it looks most like あ.",
            "several": "This looks like several characters side by side. Clear the pad and draw just one.",
            "unsure": "The models disagree. Best guess: あ, 42% sure (2 of 4 models agree)."}[why]
    assert said in text, text
    assert "digit" not in page.locator("main").inner_text().lower()
    assert "(the API's sentence)" not in text
    assert page.get_by_role("button", name="Choose what it is").is_visible()
    if why != "several":
        assert answer(page).locator(".sub .glyph").first.get_attribute("lang") == "ja"  # the glyph in its own fonts


@pytest.mark.parametrize("screen", ["phone"], indirect=True)
def test_the_counts_chart_is_compact_on_a_phone(screen):
    """71 bars wrap into rows of 15 on a 390-px phone (5 rows, where they were 8), still readable."""
    page = screen
    tab(page, "Stats").click()
    chart = counts_chart(page)
    expect(chart.locator(".bar")).to_have_count(N_KANA, timeout=30_000)
    box = on_screen(page, chart)
    tops = sorted(chart.locator(".bar .tick").evaluate_all("els => els.map(e => e.getBoundingClientRect().y)"))
    rows = [y for i, y in enumerate(tops) if i == 0 or y - tops[i - 1] > 20]  # a row of glyphs a line apart
    record("counts-chart-hiragana-phone", {"chart": box, "rows": len(rows)})
    assert len(rows) <= 5 and box["height"] <= 460, (rows, box)
    ticks = chart.locator(".bar .tick").evaluate_all("els => els.map(e => e.getBoundingClientRect().x)")
    assert min(b - a for a, b in itertools.pairwise(ticks) if b > a) >= 20
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
