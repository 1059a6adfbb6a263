"""The page in a real browser: Chromium (Debian's) driven by Playwright, against the real service.

Pen strokes of UCI pendigits test digits are replayed onto the canvas with the
mouse (and with touch on a phone-sized page), mapped onto the canvas's on-screen
box the way :func:`lab.render.render_pendigit` maps them onto the bitmap.
Every request the page makes is recorded; none may leave the service's origin.

Screenshots of the main states go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import json
import io
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import fresh_queue_env
from tests.browser_pages import (  # the fixtures: tests/conftest.py registers them
    DESKTOP, PHONE, clear_pad, consent, is_focused, open_page, pad, pad_is_empty, replay_with_mouse, replay_with_touch,
    strokes_on_pad, tab,
)
from inkling_testkit.live_service import PROJECT_ROOT, LiveLearner, LiveService

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_request_leaves_the_origin")]

playwright_sync = pytest.importorskip("playwright.sync_api")
httpx = pytest.importorskip("httpx")
expect = playwright_sync.expect

SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
MODELS = ("fnn_original", "fnn_online", "cnn_original", "cnn_online")
# Labels to look for pen digits that every model reads right (a few, so one odd writer can't fail the test).
ANSWER_LABELS = (3, 0, 7, 2, 4, 5, 6, 8, 9, 1)
TEACH_LABEL = 5
TEACH_COUNT = 3
ADMIN_TOKEN = "browser-tests-admin-token"


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["embedded", "scale-out"])
def service(request, tmp_path_factory):
    """The page's server: the embedded default, then a TensorFlow-free web worker with its own learner."""
    pytest.importorskip("service.app")
    # A generous per-client drawing rate: these tests save a dozen drawings from one address.
    env = {"INKLING_DRAWINGS_BURST": "200", "INKLING_DRAWINGS_PER_MINUTE": "6000", "INKLING_ADMIN_TOKEN": ADMIN_TOKEN}
    data = tmp_path_factory.mktemp(f"inkling-browser-{request.param}")
    if request.param == "embedded":
        with LiveService(data, env=env) as svc:
            yield svc
        return
    env = {**env, **fresh_queue_env(request.getfixturevalue("redis_server"))}
    with LiveLearner(data, env=env), LiveService(data, env={**env, "INKLING_ROLE": "web"}) as svc:
        yield svc


# --- pen digits ------------------------------------------------------------------------


def pen_digits():
    from lab.data import load_pendigits

    try:
        return load_pendigits("test")
    except Exception as error:  # MissingDataError: the shared data folder is not there
        pytest.skip(f"pendigits test set unavailable: {error}")


def predict_png(client, png: bytes) -> dict:
    response = client.post("/api/predict", json={"image": "data:image/png;base64," + base64.b64encode(png).decode()})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def chosen(client):
    """Pen digits picked through the API before any drawing is saved.

    ``good``: three of different labels that all four models read right (ensemble too);
    ``misread``: one the original CNN gets wrong (for the "Wrong" path), else any;
    ``teach``: TEACH_COUNT digits labelled TEACH_LABEL.
    """
    from lab.render import render_pendigit

    digits = pen_digits()
    good, misread, tried = [], None, 0
    for label in ANSWER_LABELS:
        for digit in [d for d in digits if d.label == label][:12]:
            tried += 1
            result = predict_png(client, render_pendigit(digit))
            tops = {name: result["models"][name][0] for name in MODELS}
            if result["answer"]["digit"] == label and all(t["digit"] == label for t in tops.values()) \
                    and tops["cnn_original"]["p"] > 0.8:
                good.append(digit)
                break
            if misread is None and tops["cnn_original"]["digit"] != label and result["answer"]["digit"] is not None:
                misread = digit
        if len(good) == 3:
            break
    assert len(good) == 3, f"only {len(good)} of {tried} pen digits were read right by all four models"
    if misread is None:
        misread = next(d for d in digits if d.label not in {g.label for g in good})
    teach = [d for d in digits if d.label == TEACH_LABEL][20 : 20 + TEACH_COUNT]
    return {"good": good, "misread": misread, "teach": teach}


@pytest.fixture(scope="module")
def titles(client) -> dict[str, str]:
    """Each model's title, by name, as the page shows them (GET /api/config)."""
    return client.get("/api/config").json()["titles"]


@pytest.fixture(scope="module")
def probe(chosen) -> bytes:
    from lab.render import render_pendigit

    return render_pendigit(chosen["good"][0])


def screen_strokes(page, digit) -> list[np.ndarray]:
    """The digit's strokes in page (CSS) pixels, centred on the pad as render_pendigit centres them."""
    from lab.render import PENDIGITS_VIEW

    box = pad(page).bounding_box()
    points = np.concatenate(digit.strokes)
    shift = PENDIGITS_VIEW / 2 - (points.min(axis=0) + points.max(axis=0)) / 2
    scale = np.array([box["width"], box["height"]]) / PENDIGITS_VIEW
    origin = np.array([box["x"], box["y"]])
    return [(stroke + shift) * scale + origin for stroke in digit.strokes]


def draw_with_mouse(page, digit) -> None:
    replay_with_mouse(page, screen_strokes(page, digit))


def draw_with_touch(page, digit) -> None:
    replay_with_touch(page, screen_strokes(page, digit))


def shown_prediction(page):
    """The predict response (a Playwright Response) the page is showing, once it describes what is on the pad now.

    The answer card says when its answer is for the drawing now on the pad (``data-current``); the
    page then shows the newest answer it was sent (open_page records them in ``page.predictions``).
    """
    page.locator("[data-testid=answer][data-current=true]").wait_for(state="attached", timeout=20_000)
    return page.predictions[-1]


def wait_for_prediction(page) -> dict:
    """The predict response the page is showing, once it describes what is on the pad now."""
    return shown_prediction(page).json()


# --- what is on the page, found by role, name or text (tests/browser_pages.py has the pad, tabs and consent) ---


def answer(page):
    """The big answer card (a live region, without a role or name of its own)."""
    return page.get_by_test_id("answer")


def shown_answer(page) -> str | None:
    return answer(page).get_attribute("data-digit")


def model_card(page, title: str):
    """A model's card, named by the model's title (``titles``)."""
    return page.get_by_role("article", name=title, exact=True)


def top3_shown(page, title) -> list[int]:
    """The labels of a model's top-3 on its card (``title``: the model's title), best first."""
    return [int(d) for d in model_card(page, title).get_by_role("listitem").evaluate_all("els => els.map(e => e.dataset.digit)")]


def right_button(page, **options):
    """Right: named "Right", or "Right, it is a 5" once there is an answer."""
    return page.get_by_role("button", name=re.compile(r"^Right\b"), **options)


def wrong_button(page, **options):
    return page.get_by_role("button", name="Wrong", exact=True, **options)


def picker(page, **options):
    return page.get_by_role("group", name="What did you draw?", **options)


def picker_button(page, glyph: str):
    """The picker's button for a digit: "I drew a 5", "I drew an 8"."""
    return picker(page).get_by_role("button", name=f"I drew {'an' if glyph == '8' else 'a'} {glyph}", exact=True)


def teach_button(page, glyph: str):
    """Teach mode's radio for a digit: "Teach the digit 5", with "(N in your memory)" once the memory knows it."""
    return page.get_by_role("radio", name=re.compile(rf"^Teach the digit {re.escape(glyph)}(?: \(|$)"), include_hidden=True)


def teach_save(page):
    """Teach mode's Save (beside Undo and Clear): "Save", or "Save this 5" once a digit is picked."""
    return page.get_by_role("button", name=re.compile(r"^Save\b"))


def teach_count(page):
    """Teach mode's count over the pad ("3 saved"; no role: found by test id)."""
    return page.get_by_test_id("teach-count")


def error_box(page):
    """The inline error box: the one alert shown once the page runs (the boot error is the other)."""
    return page.get_by_role("alert")


# These three are found hidden or shown: the tests check when they are hidden.


def retry_button(page):
    return page.get_by_role("button", name="Retry", exact=True, include_hidden=True)


def forget_button(page):
    return page.get_by_role("button", name="Forget my handwriting", include_hidden=True)


def feature_maps(page):
    return page.get_by_role("region", name="Inside the CNN", include_hidden=True)


def stroke_guide(page):
    """Teach mode's "how it is written" figure, named by its caption ("ゆ is written in 2 strokes … Stroke order
    from KanjiVG"), found hidden or shown."""
    return page.get_by_role("figure", name=re.compile(r"Stroke order from KanjiVG"), include_hidden=True)


def panel(page, name: str, **options):
    return page.get_by_role("tabpanel", name=name, exact=True, **options)


def counts_chart(page):
    return page.get_by_role("img", name=re.compile(r"^Drawings collected per "))


def accuracy_card(page, title: str):
    """An online model's accuracy chart card (``title``: the model's title)."""
    return page.get_by_role("article").filter(has=page.get_by_role("heading", name=f"{title}: holdout accuracy", exact=True))


def gallery(page):
    return page.get_by_role("list", name="Latest drawings")


def online_versions(client, probe) -> dict:
    """The online models' versions right now (a predict response carries every model's; /api/stats is cached)."""
    versions = predict_png(client, probe)["versions"]
    assert versions["fnn_original"] == versions["cnn_original"] == 0  # the shipped originals: nothing promoted here
    return {name: versions[name] for name in ("fnn_online", "cnn_online")}


def drawings(client, admin: bool = False, **params) -> list[dict]:
    """Every listed drawing: those given with consent, or with ``admin`` all of them."""
    items, cursor = [], None
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"} if admin else {}
    while True:
        page = client.get("/api/drawings", headers=headers,
                          params={**params, "limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def shot(page, name: str, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def canvas_colours(canvases) -> list[int]:
    """For each canvas the locator ``canvases`` finds, how many distinct RGBA values it holds (capped at 3)."""
    return canvases.evaluate_all(
        """els => els.map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const seen = new Set();
            for (let i = 0; i < d.length && seen.size < 3; i += 4) seen.add((d[i] << 24) | (d[i+1] << 16) | (d[i+2] << 8) | d[i+3]);
            return seen.size;
        })"""
    )


# --- tests -----------------------------------------------------------------------------


def test_page_is_built_from_the_config(fresh, client, titles):
    page = fresh
    spec = client.get("/api/config").json()["canvas"]
    canvas = pad(page)
    assert canvas.evaluate("c => [c.width, c.height]") == [spec["size"], spec["size"]]
    assert canvas.evaluate("c => getComputedStyle(c).touchAction") == "none"
    # background filled with the configured colour
    rgb = tuple(int(spec["background"][i : i + 2], 16) for i in (1, 3, 5))
    assert canvas.evaluate("c => Array.from(c.getContext('2d').getImageData(5, 5, 1, 1).data.slice(0, 3))") == list(rgb)
    parts = {
        "clear": page.get_by_role("button", name="Clear the drawing"),
        "undo": page.get_by_role("button", name="Undo last stroke"),
        "answer": answer(page),
        "input28": page.get_by_role("img", name="The 28 by 28 pixel image the models saw", include_hidden=True),  # once drawn
        "right": right_button(page, include_hidden=True),  # hidden until there is something to judge
        "wrong": wrong_button(page, include_hidden=True),
        "consent": consent(page),
        "teach": panel(page, "Teach", include_hidden=True),
        "activations": feature_maps(page),
        "stats": panel(page, "Stats", include_hidden=True),
        **{f"model-{m}": model_card(page, titles[m]) for m in MODELS},
    }
    for name, part in parts.items():
        assert part.count() == 1, name
    assert consent(page).is_checked()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # a tap draws a dot; Undo takes it away again
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert canvas_colours(canvas) == [3]
    page.get_by_role("button", name="Undo last stroke").click()
    assert canvas_colours(canvas) == [1]


def test_pen_digits_are_recognised_live(fresh, chosen, client, titles):
    page = fresh
    for index, digit in enumerate(chosen["good"]):
        clear_pad(page)
        draw_with_mouse(page, digit)
        response = wait_for_prediction(page)
        assert response["answer"]["digit"] == digit.label
        assert shown_answer(page) == str(digit.label)
        assert f"It's a {digit.label}" in answer(page).inner_text()
        for name in MODELS:
            assert top3_shown(page, titles[name]) == [g["digit"] for g in response["models"][name]]
            assert len(top3_shown(page, titles[name])) == 3
        # the 28x28 image the models saw is drawn, and is not blank
        assert canvas_colours(page.get_by_role("img", name="The 28 by 28 pixel image the models saw")) == [3]
        if index == 0:
            page.wait_for_timeout(300)  # let the feature maps arrive for the picture
            shot(page, "desktop-answer")
            shot(page, "desktop-answer-full", full_page=True)


def test_the_page_sends_a_gray_png_of_the_canvas(fresh, chosen, client):
    """The page sends its drawing as an 8-bit gray PNG (png.js), which must hold exactly the levels the
    server makes from the canvas's own RGBA PNG, and so get exactly its answer."""
    from PIL import Image

    page = fresh
    with page.expect_request(lambda r: r.url.endswith("/api/predict")) as asked:
        draw_with_mouse(page, chosen["good"][1])
    shown = shown_prediction(page)
    response = shown.json()
    sent = asked.value.post_data_json["image"]
    assert sent == shown.request.post_data_json["image"]  # the drawing the answer on show is for
    own = pad(page).evaluate("c => c.toDataURL('image/png')")
    gray, rgba = (Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) for url in (sent, own))
    assert (gray.mode, rgba.mode) == ("L", "RGBA")
    assert np.array_equal(np.asarray(gray), np.asarray(rgba.convert("L")))
    assert len(sent) < 0.75 * len(own)
    same = client.post("/api/predict", json={"image": own}).json()
    assert same["models"] == response["models"] and same["answer"] == response["answer"]
    # where the canvas is not opaque, gray would lose the alpha: the canvas's own PNG goes instead
    see_through = page.evaluate("""async () => {
        const {canvasPNG} = await import('/js/png.js');
        const c = document.createElement('canvas'); c.width = c.height = 8;
        c.getContext('2d').fillRect(0, 0, 4, 4);
        return canvasPNG(c); }""")
    assert Image.open(io.BytesIO(base64.b64decode(see_through.split(",", 1)[1]))).mode == "RGBA"
    # where the browser's deflate fails mid-way, the fallback encodes the pixels it read, not a stroke drawn since
    snapshot_kept = page.evaluate("""async () => {
        const {canvasPNG} = await import('/js/png.js');
        const c = document.createElement('canvas'); c.width = c.height = 28;
        const ctx = c.getContext('2d');
        ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, 28, 28); ctx.fillStyle = '#111'; ctx.fillRect(4, 4, 8, 20);
        const before = c.toDataURL('image/png');
        const real = window.CompressionStream;
        window.CompressionStream = class extends TransformStream {
          constructor() { super({ async transform() { await new Promise((r) => setTimeout(r, 100)); throw new Error('no'); } }); }
        };
        try {
          const sent = canvasPNG(c);
          await new Promise((r) => setTimeout(r, 20));
          ctx.fillRect(16, 4, 8, 20); // the next stroke, while the first drawing is being encoded
          return (await sent) === before;
        } finally { window.CompressionStream = real; } }""")
    assert snapshot_kept


def test_undo_and_clear(fresh, chosen):
    page = fresh
    digit = chosen["good"][0]
    draw_with_mouse(page, digit)
    wait_for_prediction(page)
    strokes = strokes_on_pad(page)
    assert strokes == len(digit.strokes)
    page.get_by_role("button", name="Undo last stroke").click()
    assert strokes_on_pad(page) == strokes - 1
    box = pad(page).bounding_box()
    page.mouse.click(box["x"] + 20, box["y"] + 20)  # a dot...
    assert strokes_on_pad(page) == strokes
    page.keyboard.press("Control+z")  # ...undone from the keyboard
    assert strokes_on_pad(page) == strokes - 1
    draw_with_mouse(page, digit)
    page.get_by_role("button", name="Clear the drawing").click()
    assert pad_is_empty(page)
    assert canvas_colours(pad(page)) == [1]
    assert answer(page).get_attribute("data-state") == "empty"


def test_activations_show_feature_maps(fresh, chosen):
    page = fresh
    draw_with_mouse(page, chosen["good"][1])
    wait_for_prediction(page)
    maps = feature_maps(page)
    layers = {name: maps.get_by_role("figure", name=re.compile(rf"^{name}: ")) for name in ("conv1", "pool1", "conv2", "pool2")}
    for name, count in (("conv1", 32), ("pool1", 32), ("conv2", 64), ("pool2", 64)):
        layer = layers[name]
        layer.wait_for(timeout=20_000)
        assert layer.locator("canvas.map").count() == count
        assert layer.locator("figcaption .legend").inner_text().strip()
    # the status line ("Draw something to see the feature maps.") has no role: found by its test id
    page.get_by_test_id("activations-status").wait_for(state="hidden", timeout=20_000)
    for name, layer in layers.items():
        colours = canvas_colours(layer.locator("canvas.map"))
        assert max(colours) > 1, f"every {name} map is one flat colour"
    assert "edges" in layers["conv1"].locator(".legend").inner_text()


def test_wrong_then_pick_a_digit_stores_it_and_the_models_learn(fresh, chosen, client, probe):
    page = fresh
    digit = chosen["misread"]
    before_versions = online_versions(client, probe)
    before_ids = {d["id"] for d in drawings(client, label=digit.label)}
    draw_with_mouse(page, digit)
    shown = wait_for_prediction(page)
    # keyboard: Wrong opens the picker with focus on 0; Tab walks to the right digit
    wrong_button(page).focus()
    page.keyboard.press("Enter")
    assert picker(page).is_visible()
    assert is_focused(picker_button(page, "0"))
    for _ in range(digit.label):
        page.keyboard.press("Tab")
    assert is_focused(picker_button(page, str(digit.label)))
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
        page.keyboard.press("Enter")
    assert saved.value.status == 201
    body = saved.value.json()
    learned = page.get_by_test_id("learned")  # the learned card and its rows per model have no role: found by test id
    learned.wait_for(state="visible")
    shot(page, "desktop-learned")

    assert body["stored"] and body["trained"]
    new_ids = {d["id"] for d in drawings(client, label=digit.label)} - before_ids
    assert new_ids == {body["id"]}
    after_versions = online_versions(client, probe)
    for name, version in before_versions.items():
        assert after_versions[name] > version, (name, version, after_versions[name])
        assert body["versions"][name] == after_versions[name]
        row = page.get_by_test_id(f"learned-{name}")
        assert f"v{shown['versions'][name]} → v{body['versions'][name]}" in row.inner_text()
        assert len(row.locator(".before li.guess").all()) == 3
        assert len(row.locator(".after li.guess").all()) == 3
    # saved: the pad is clear for the next one
    assert pad_is_empty(page)


def test_right_stores_the_shown_answer(fresh, chosen, client):
    page = fresh
    digit = chosen["good"][2]
    draw_with_mouse(page, digit)
    wait_for_prediction(page)
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
        right_button(page).click()
    body = saved.value.json()
    assert saved.value.status == 201
    assert saved.value.request.post_data_json["label"] == digit.label
    assert saved.value.request.post_data_json["train"] is True
    assert body["id"] in {d["id"] for d in drawings(client, label=digit.label)}


def canvas_points(page, strokes) -> list[np.ndarray]:
    """Strokes given in page (CSS) pixels, in the canvas's own pixels (its bitmap), as the pad maps them."""
    box = pad(page).bounding_box()
    size = pad(page).evaluate("c => c.width")
    origin, scale = np.array([box["x"], box["y"]]), size / np.array([box["width"], box["height"]])
    return [(np.asarray(stroke, float) - origin) * scale for stroke in strokes]


def test_a_saved_drawing_keeps_its_strokes_as_drawn(fresh, chosen, client):
    """Every save sends the drawing's pen strokes (Quick, Draw!'s raw format: canvas pixels, ms since the first
    point); a stroke undone is not among them. The service keeps them (GET /api/drawings/{id}/strokes), they
    are what was drawn, in the canvas's coordinates, and drawn again (lab.render.render_strokes) they make
    nearly the PNG the page sent."""
    from PIL import Image

    from lab.render import render_strokes

    page = fresh
    digit = chosen["good"][1]
    drawn = screen_strokes(page, digit)
    replay_with_mouse(page, drawn)
    box = pad(page).bounding_box()
    replay_with_mouse(page, [np.array([[box["x"] + 12, box["y"] + 12], [box["x"] + 60, box["y"] + 30]], float)])  # a slip...
    page.keyboard.press("Control+z")  # ...undone
    assert strokes_on_pad(page) == len(digit.strokes)
    wait_for_prediction(page)
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
        right_button(page).click()
    assert saved.value.status == 201, saved.value.text()
    sent = saved.value.request.post_data_json
    kept = client.get(f"/api/drawings/{saved.value.json()['id']}/strokes")
    assert kept.status_code == 200 and kept.json() == sent["strokes"]
    strokes = kept.json()
    assert len(strokes) == len(digit.strokes)
    times = [t for stroke in strokes for t in stroke[2]]
    assert times[0] == 0 and times == sorted(times) and all(float(t).is_integer() for t in times)
    assert times[-1] > 0  # the mouse took time to draw it
    expected = canvas_points(page, drawn)
    for stroke, want in zip(strokes, expected):
        got = np.c_[stroke[0], stroke[1]]
        assert len(got) > 0.8 * len(want)
        # every point recorded lies on the path drawn, and every point drawn was recorded (within a pixel)
        gap = np.linalg.norm(got[:, None] - want[None], axis=2)
        assert gap.min(axis=1).max() < 1.5 and gap.min(axis=0).max() < 1.5, (gap.min(axis=1).max(), gap.min(axis=0).max())
    png = Image.open(io.BytesIO(base64.b64decode(sent["image"].split(",", 1)[1]))).convert("L")
    again = Image.open(io.BytesIO(render_strokes([np.c_[s[0], s[1]] for s in strokes]))).convert("L")
    ink, ink_again = np.asarray(png) < 128, np.asarray(again) < 128
    overlap = (ink & ink_again).sum() / (ink | ink_again).sum()
    assert png.size == again.size and overlap > 0.9, overlap
    assert np.abs(np.asarray(png, float) - np.asarray(again, float)).mean() < 4


def test_long_strokes_are_thinned_to_what_the_service_takes(fresh):
    """At most 4,096 points: a long scribble is thinned (its ends and shape kept); more than 64 strokes are not
    sent (the drawing is saved without them); an empty pad has none."""
    page = fresh
    found = page.evaluate("""async () => {
        const {DrawingPad} = await import('/js/pad.js');
        const c = document.createElement('canvas');
        const pad = new DrawingPad(c, {size: 280, line_width: 18, ink: '#111', background: '#fff'});
        const empty = pad.toStrokes();
        const wiggle = (n, t0) => Array.from({length: n}, (_, i) => [140 + 100 * Math.sin(i / 40), 140 + 100 * Math.cos(i / 97), t0 + i * 4]);
        pad.strokes = [wiggle(3000, 1000), wiggle(2500, 20000)];
        const thinned = pad.toStrokes();
        pad.strokes = Array.from({length: 65}, (_, i) => [[i, i, i * 10]]);
        const many = pad.toStrokes();
        pad.strokes = Array.from({length: 64}, (_, i) => [[i, i, 5000 + i * 10]]);
        const most = pad.toStrokes();
        return {empty, thinned, many, most}; }""")
    assert found["empty"] is None and found["many"] is None
    assert len(found["most"]) == 64 and found["most"][0] == [[0], [0], [0]] and found["most"][-1][2] == [630]
    thinned = found["thinned"]
    points = sum(len(stroke[0]) for stroke in thinned)
    assert 500 < points <= 4096
    assert thinned[0][2][0] == 0 and thinned[1][2][-1] == 20000 + 2499 * 4 - 1000  # ends kept, times from the first
    assert [thinned[0][0][0], thinned[0][1][0]] == [140, 240]


def test_a_queued_drawing_shows_learning_then_what_was_learned(fresh, chosen, client):
    """When the learner is behind, the server answers at once with ``queued``; the page says it is
    learning and updates once a version has learned the drawing. Here the server is asked not to wait
    (``wait: false``, what it does by itself past INKLING_MAX_BACKLOG); everything else is real."""
    page = fresh

    def no_wait(route):
        route.continue_(post_data=json.dumps({**route.request.post_data_json, "wait": False}))

    page.route("**/api/drawings", no_wait)
    try:
        digit = chosen["good"][1]
        draw_with_mouse(page, digit)
        shown = wait_for_prediction(page)
        with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
            right_button(page).click()
        body = saved.value.json()
        assert saved.value.status == 201 and body["queued"] and not body["trained"]
        learning = page.get_by_text("Learning…")
        learning.wait_for(state="visible")
        assert "Learning…" in learning.inner_text()
        shot(page, "desktop-learning")
        page.get_by_text(f"Learned from your {digit.label}").wait_for(timeout=15_000)
        learned = client.get(f"/api/drawings/{body['id']}").json()["learned"]
        for name, version in learned.items():
            row = page.get_by_test_id(f"learned-{name}")
            assert f"v{shown['versions'][name]} → v" in row.inner_text()
            assert version > shown["versions"][name]
            assert len(row.locator(".after li.guess").all()) == 3
    finally:
        page.unroute("**/api/drawings")


def test_not_a_digit_stores_nothing(fresh, chosen, client):
    page = fresh
    total = len(drawings(client))
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/api/drawings") else None)
    draw_with_mouse(page, chosen["good"][0])
    wait_for_prediction(page)
    wrong_button(page).click()
    page.get_by_role("button", name="Not a digit", exact=True).click()
    assert "Thanks" in answer(page).inner_text()
    assert pad_is_empty(page)
    assert posts == []
    assert len(drawings(client)) == total


def test_consent_off_stores_without_training(fresh, chosen, client, probe):
    page = fresh
    consent(page).uncheck()
    before_versions = online_versions(client, probe)
    digit = chosen["good"][1]
    draw_with_mouse(page, digit)
    wait_for_prediction(page)
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
        right_button(page).click()
    assert saved.value.request.post_data_json["train"] is False
    body = saved.value.json()
    assert body["stored"] and not body["trained"]
    page.get_by_test_id("learned").wait_for(state="visible")
    assert "without training" in page.get_by_test_id("learned").inner_text()
    stored = next(d for d in drawings(client, admin=True, label=digit.label) if d["id"] == body["id"])
    assert stored["train"] is False
    assert body["id"] not in {d["id"] for d in drawings(client, label=digit.label)}  # private: the admin's only
    assert online_versions(client, probe) == before_versions
    consent(page).check()


def test_teach_mode_saves_each_drawing(fresh, chosen, client):
    page = fresh
    before = {d["id"] for d in drawings(client, label=TEACH_LABEL)}
    tab(page, "Teach").click()
    teach = panel(page, "Teach")
    assert teach.is_visible() and not feature_maps(page).is_visible()
    teach_button(page, str(TEACH_LABEL)).click()
    assert stroke_guide(page).count() == 1 and not stroke_guide(page).is_visible()  # the digits' file has no "strokes"
    for n, digit in enumerate(chosen["teach"], start=1):
        draw_with_mouse(page, digit)
        with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
            if n % 2:
                page.keyboard.press("Enter")
            else:
                teach_save(page).click()
        assert saved.value.status == 201
        assert saved.value.request.post_data_json["label"] == TEACH_LABEL
        expect(teach_count(page)).to_have_text(f"{n} saved")
        assert pad_is_empty(page)
        if n == 2:
            draw_with_mouse(page, chosen["teach"][-1])  # mid-drawing, for the picture
            shot(page, "desktop-teach")
            for _ in range(strokes_on_pad(page)):  # undone stroke by stroke from the keyboard: focus stays where it was
                page.keyboard.press("Control+z")
    added = {d["id"] for d in drawings(client, label=TEACH_LABEL)} - before
    assert len(added) == TEACH_COUNT


def test_your_handwriting_is_remembered_shown_and_forgotten(browser, service, requests_seen, chosen, client):
    """A writer of their own (a fresh browser profile): teach, see "Personalised by N", reload, forget."""
    page = open_page(browser, service, requests_seen)
    try:
        writer = page.evaluate("() => localStorage.getItem('inkling.writer')")
        assert writer and 8 <= len(writer) <= 64
        # the memory's card (a region named by its note, with Forget): found by its test id, hidden or shown
        memory = page.get_by_test_id("memory")
        assert memory.is_hidden()  # nothing remembered yet: nothing to show or forget
        tab(page, "Teach").click()
        teach_button(page, str(TEACH_LABEL)).click()
        for digit in chosen["teach"][:2]:
            draw_with_mouse(page, digit)
            with page.expect_response(lambda r: r.url.endswith("/api/drawings")) as saved:
                teach_save(page).click()
            assert saved.value.status == 201 and saved.value.request.post_data_json["writer"] == writer
        page.get_by_text("Personalised by 2 of your drawings").wait_for()
        assert memory.is_visible()
        taught = teach_button(page, str(TEACH_LABEL))  # marked as known to the memory, and said so
        expect(taught).to_have_attribute("data-taught", "2", timeout=30_000)
        assert "2 in your memory" in taught.get_attribute("aria-label")
        others = [d for d in range(10) if d != TEACH_LABEL]
        assert all(teach_button(page, str(d)).get_attribute("data-taught") is None for d in others)
        assert page.get_by_text("Your memory knows").inner_text() == (
            f"Your memory knows 1 of the 10 digits (marked with a dot). Not yet: {', '.join(map(str, others))}.")

        page.reload()  # the id, and so the memory, outlive the page
        page.wait_for_selector("html[data-ready=true]")
        page.get_by_text("Personalised by 2 of your drawings").wait_for()
        tab(page, "Draw").click()
        with page.expect_request(lambda r: r.url.endswith("/api/predict")) as asked:
            draw_with_mouse(page, chosen["teach"][-1])
        assert asked.value.post_data_json["writer"] == writer
        response = wait_for_prediction(page)
        assert response["answer"]["personalised_by"] == 2
        if response["answer"]["digit"] is not None:
            assert "personalised for you" in answer(page).inner_text()
        shot(page, "desktop-personalised")

        forget_button(page).click()  # asked first (tests/test_browser_trust.py), then sent after a few seconds
        with page.expect_response(lambda r: r.url.endswith("/api/me") and r.request.method == "DELETE") as gone:
            page.get_by_role("group", name="Forget your handwriting?").get_by_role("button", name="Forget", exact=True).click()
        assert gone.value.status == 200 and gone.value.request.headers["inkling-writer"] == writer
        page.get_by_text(re.compile(r"^Forgotten")).wait_for()
        assert forget_button(page).is_hidden()
        assert taught.get_attribute("data-taught") is None and page.get_by_text("Your memory knows").is_hidden()
        renewed = page.evaluate("() => localStorage.getItem('inkling.writer')")
        assert renewed != writer  # a new id from now on
        assert client.get("/api/me", headers={"Inkling-Writer": writer}).json()["drawings"] == 0
        assert wait_for_prediction(page)["answer"]["personalised_by"] == 0  # the answer on show, asked again
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


def test_blank_submit_shows_nothing_drawn(fresh, client):
    page = fresh
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (280, 280), "white").save(blank, format="PNG")
    expected = client.post("/api/predict", json={"image": "data:image/png;base64," + base64.b64encode(blank.getvalue()).decode()})
    assert expected.status_code == 422
    detail = expected.json()["detail"]
    tab(page, "Teach").click()
    teach_button(page, "1").click()
    assert teach_save(page).is_disabled()  # nothing on the pad: nothing to save
    box = pad(page).bounding_box()
    page.mouse.click(box["x"] + 30, box["y"] + 30)  # a dot, sent as the blank canvas it nearly is
    blank_url = "data:image/png;base64," + base64.b64encode(blank.getvalue()).decode()
    page.route("**/api/drawings", lambda route: route.continue_(
        post_data=json.dumps({**route.request.post_data_json, "image": blank_url})))
    try:
        with page.expect_response(lambda r: r.url.endswith("/api/drawings")) as saved:
            teach_save(page).click()
    finally:
        page.unroute("**/api/drawings")
    assert saved.value.status == 422
    error = error_box(page)
    error.wait_for(state="visible")
    assert error.inner_text().strip().startswith(detail)
    assert "nothing drawn" in detail.lower()
    assert not retry_button(page).is_visible()  # resending a blank would not help
    shot(page, "desktop-blank")


def test_unsure_answer_asks_and_offers_only_a_choice(fresh, chosen):
    page = fresh
    reason = "The models disagree: 3, 5 and 8."

    def unsure(route):
        body = route.fetch().json()
        body["answer"] = {"digit": None, "label": None, "glyph": None, "p": 0.4, "agree": 1, "why": "unsure", "reason": reason,
                          "best": {"digit": 3, "label": 3, "glyph": "3", "p": 0.4}, "personalised_by": 0, "memory": None}
        route.fulfill(json=body)

    page.route("**/api/predict", unsure)
    try:
        draw_with_mouse(page, chosen["good"][0])
        wait_for_prediction(page)
    finally:
        page.unroute("**/api/predict")
    shown = answer(page)
    assert shown.get_attribute("data-digit") is None
    assert "I'm not sure what this is" in shown.inner_text()
    assert "Best guess: a 3, 40% sure (1 of 4 models agrees)." in shown.inner_text()
    assert reason not in shown.inner_text()  # said in the page's own words (from `why`)
    assert right_button(page, include_hidden=True).is_hidden()  # nothing to call right
    choose = page.get_by_role("button", name="Choose what it is", exact=True)
    assert choose.is_enabled()
    choose.click()
    assert picker(page).is_visible()
    shot(page, "desktop-unsure")


def test_storage_outage_is_explained_and_can_be_retried(fresh, chosen, client):
    page = fresh
    digit = chosen["good"][0]
    draw_with_mouse(page, digit)
    wait_for_prediction(page)
    message = "Storage is unavailable right now, so your drawing was not saved."

    def outage(route):
        route.fulfill(status=503, headers={"Retry-After": "7", "Content-Type": "application/json"},
                      body='{"detail": "%s", "code": "storage_unavailable"}' % message)

    page.route("**/api/drawings", outage)
    right_button(page).click()
    error = error_box(page)
    error.wait_for(state="visible")
    assert message in error.inner_text()
    assert error.get_by_text("retry in 7 seconds").is_visible()
    assert not pad_is_empty(page)  # the drawing is kept
    shot(page, "desktop-error")

    # the network drops: a friendly message, not a stack trace
    page.unroute("**/api/drawings")
    page.route("**/api/drawings", lambda route: route.abort("internetdisconnected"))
    retry_button(page).click()
    error.get_by_text("reach").wait_for()
    assert retry_button(page).is_visible()

    page.unroute("**/api/drawings")
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
        retry_button(page).click()
    assert saved.value.status == 201
    assert saved.value.json()["id"] in {d["id"] for d in drawings(client, label=digit.label)}
    assert not error.is_visible()


def test_stats_show_counts_accuracy_and_gallery(fresh, chosen, client, titles):
    page = fresh
    total = len(drawings(client))  # counted: those given to be shown (how many are private is nobody's business)
    assert total < len(drawings(client, admin=True))  # there are private ones
    for _ in range(50):  # /api/stats is cached for a moment; wait until it counts every drawing
        stats = client.get("/api/stats").json()
        if stats["total"] == total:
            break
        page.wait_for_timeout(100)
    assert stats["total"] == total
    tab(page, "Stats").click()
    section = panel(page, "Stats")
    section.wait_for(state="visible")
    assert not pad(page).is_visible()
    expect(counts_chart(page).locator(".bar")).to_have_count(10, timeout=30_000)
    assert section.get_by_text(re.compile(rf"^{stats['total']} drawings? so far$")).is_visible()
    values = counts_chart(page).locator(".bar .value").evaluate_all("els => els.map(e => e.textContent)")
    assert [int(v) for v in values] == stats["counts"]
    for name in stats["online"]:
        card = accuracy_card(page, titles[name])
        assert card.count() == 1
        # the line starts at step 0 (the original) and has a point per holdout check; the original is dashed
        assert card.locator("svg .series").count() == 1
        assert card.locator("svg .reference").count() == 1
        if len(stats["online"][name]["history"]) < 50:  # long lines get a dot on the last point only
            assert card.locator("svg circle.dot").count() == 1 + len(stats["online"][name]["history"])
        assert card.locator("svg .rollback").count() == len(stats["online"][name]["rollbacks"])
    latest = client.get("/api/drawings", params={"limit": 24}).json()["items"]
    shown = gallery(page)
    page.wait_for_function(
        "([list, n]) => Array.from(list.querySelectorAll('img')).filter(i => i.complete && i.naturalWidth > 0).length === n",
        arg=[shown.element_handle(), len(latest)],
    )
    assert shown.locator("li.drawing").evaluate_all("els => els.map(e => e.dataset.id)") == [d["id"] for d in latest]
    assert shown.locator("li.untrained").count() == sum(1 for d in latest if d["train"] is False)
    shot(page, "desktop-stats", full_page=True)

    # a drawing saved meanwhile is there when the section is opened again
    tab(page, "Draw").click()
    draw_with_mouse(page, chosen["good"][2])
    wait_for_prediction(page)
    with page.expect_response(lambda r: r.url.endswith("/api/drawings") and r.request.method == "POST") as saved:
        right_button(page).click()
    tab(page, "Stats").click()
    section.get_by_text(re.compile(rf"^{stats['total'] + 1} drawing")).wait_for()
    expect(shown.locator("li.drawing").first).to_have_attribute("data-id", saved.value.json()["id"], timeout=30_000)


def test_accuracy_chart_marks_rollbacks(fresh, titles):
    """A long history with a rollback, as the service reports one later in its life (served by a route)."""
    page = fresh
    history = [{"version": v, "step": v, "holdout_accuracy": 0.99 - 0.002 * (v % 7), "time": f"2026-11-27T15:{v:02d}:00Z"}
               for v in range(10, 51, 10)]
    online = {
        "fnn_online": {"version": 51, "steps": 50, "original_accuracy": 0.985, "history": history,
                       "rollbacks": [{"from_version": 40, "to_version": 30, "new_version": 41, "time": "2026-11-27T15:40:30Z"}]},
        "cnn_online": {"version": 50, "steps": 50, "original_accuracy": 0.99, "history": history, "rollbacks": []},
    }
    page.route("**/api/stats", lambda route: route.fulfill(json={"counts": [5] * 10, "total": 50, "online": online}))
    try:
        tab(page, "Stats").click()
        fnn = accuracy_card(page, titles["fnn_online"])
        expect(fnn.locator("svg .rollback")).to_have_count(1, timeout=30_000)
        assert fnn.locator("svg circle.dot").count() == 1 + len(history)  # step 0 (the original) + each check
        assert fnn.locator("svg .reference").count() == 1
        assert "v40 → v30" in fnn.locator("svg .rollback title").text_content()
        assert accuracy_card(page, titles["cnn_online"]).locator("svg .rollback").count() == 0
        assert panel(page, "Stats").get_by_text("50 drawings so far").is_visible()
        shot(page, "desktop-stats-rollback")
    finally:
        page.unroute("**/api/stats")


def test_phone_touch_drawing(browser, service, requests_seen, chosen, titles):
    page = open_page(browser, service, requests_seen, viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    try:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        pad(page).evaluate(
            """c => { window.__pointerTypes = [];
                c.addEventListener('pointerdown', e => window.__pointerTypes.push(e.pointerType)); }"""
        )
        # the pad fits the screen and is fully visible before drawing
        box = pad(page).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["y"] + box["height"] <= PHONE["height"]
        digit = chosen["good"][0]
        draw_with_touch(page, digit)
        response = wait_for_prediction(page)
        assert set(page.evaluate("window.__pointerTypes")) == {"touch"}
        assert page.evaluate("[window.scrollX, window.scrollY]") == [0, 0], "drawing scrolled the page"
        assert response["answer"]["digit"] == digit.label
        assert shown_answer(page) == str(digit.label)
        for name in MODELS:
            assert len(top3_shown(page, titles[name])) == 3
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, "phone-draw")
        answer(page).scroll_into_view_if_needed()
        shot(page, "phone-answer")
        tab(page, "Stats").click()
        expect(counts_chart(page).locator(".bar")).to_have_count(10, timeout=30_000)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, "phone-stats", full_page=True)
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


AXE_PATHS = sorted(Path.home().glob(".cache/inkling/axe-core-*/axe.min.js"))


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2.x A and AA, best practices)."""
    if not page.evaluate("() => !!window.axe"):  # through DevTools: the page's own CSP rightly refuses inline scripts
        page.context.new_cdp_session(page).send("Runtime.evaluate", {"expression": AXE_PATHS[-1].read_text()})
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
        .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}))""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def assert_accessible(page, **steps) -> None:
    """axe-core finds nothing serious after each step (name=callable), then in teach mode and in stats."""
    found = {}
    for name, step in {**steps, "teach": lambda: tab(page, "Teach").click(),
                       "stats": lambda: (tab(page, "Stats").click(),
                                         panel(page, "Stats").wait_for(state="visible"))}.items():
        step()
        found[name] = axe_violations(page)
    assert not any(found.values()), found
    assert not page.js_errors, page.js_errors


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_no_serious_accessibility_violations(browser, service, requests_seen, chosen, viewport):
    """axe-core (the engine of Lighthouse's audit) over the draw, answer, teach and stats states."""
    if not AXE_PATHS:
        pytest.skip("axe-core is not fetched (scripts/fetch_axe; scripts/install --dev does it)")
    page = open_page(browser, service, requests_seen, viewport=DESKTOP if viewport == "desktop" else PHONE,
                     has_touch=viewport == "phone")
    try:
        assert_accessible(page, draw=lambda: None,
                          answer=lambda: (draw_with_mouse(page, chosen["good"][0]), wait_for_prediction(page)))
    finally:
        page.context.close()


def test_readme_screenshot_is_small(tmp_path):
    """docs/screenshot.png is committed for the README; keep it light."""
    path = PROJECT_ROOT / "docs" / "screenshot.png"
    if not path.exists():
        pytest.skip("docs/screenshot.png not made yet")
    assert path.stat().st_size < 300_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
