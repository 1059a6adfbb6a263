"""The page in a real browser: Chromium (Debian's) driven by Playwright, for every browser test module.

The fixtures here (registered by ``tests/conftest.py``) use the ``service`` fixture of the
module that asks for them: ``browser`` (one Chromium per module), ``requests_seen`` (every URL
any page asked for), ``page`` (a desktop page, ready), ``fresh`` (that page back on the Draw
tab with an empty pad and consent on) and ``no_request_leaves_the_origin`` (a module marks
itself with ``pytest.mark.usefixtures`` to have every request checked at its end).

The tests drive and read the page as a person does: by the roles, names and texts of what is
on it (the helpers below). What a person sees but no role says is read from what the page
exposes in its DOM: the pad's ``data-strokes`` (how many strokes it holds) and the answer
card's ``data-current`` (whether the answer on show is for the drawing now on the pad).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 360, "height": 740}
# The screens issue 22 measured on: a laptop, and a tall phone held upright and used by touch.
SCREENS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2},
}


def chromium_path() -> str | None:
    return next((p for p in CHROMIUM_PATHS if Path(p).is_file()), None)


# --- what is on the page, found as a person finds it ---------------------------------------


def tab(page, name: str):
    """One of the tabs: "Draw", "Teach" or "Stats"."""
    return page.get_by_role("tab", name=name, exact=True)


def pad(page):
    """The drawing pad (a canvas with the role of an image), found hidden or shown."""
    return page.get_by_role("img", name=re.compile(r"^Drawing pad\."), include_hidden=True)


def strokes_on_pad(page) -> int:
    return int(pad(page).get_attribute("data-strokes"))


def pad_is_empty(page) -> bool:
    return strokes_on_pad(page) == 0


def clear_pad(page) -> None:
    """Press Clear, if there is anything on the pad to clear."""
    if not pad_is_empty(page):
        page.get_by_role("button", name="Clear the drawing").click()


def consent(page):
    return page.get_by_role("checkbox", name="Use my drawing to train the models")


def is_focused(locator) -> bool:
    return locator.evaluate("e => e === document.activeElement")


# --- the page -------------------------------------------------------------------------------


def open_page(browser, service, requests_seen, language: str | None = "en", before=None, **context_options):
    """A page of ``service``, ready. It speaks ``language`` as if the person had chosen it with the header's picker
    (the words these tests look for are English); with None, the language the page picks itself (the browser's,
    Playwright's ``locale``, or the alphabet's: tests/test_browser_languages.py). ``before(context)`` runs before
    the page opens (routes, say)."""
    context = browser.new_context(**{"viewport": DESKTOP, **context_options})
    if language:
        context.add_init_script("try { localStorage.getItem('inkling.language') || localStorage.setItem('inkling.language', %s) }"
                                " catch (error) {}" % json.dumps(language))
    context.on("request", lambda request: requests_seen.append(request.url))
    if before:
        before(context)
    page = context.new_page()
    # Every answer to POST /api/predict, in the order they came: the newest is the one the page shows
    # (a newer request always wins), which ``wait_for_prediction`` in test_browser.py reads.
    page.predictions = []
    page.on("response", lambda r: page.predictions.append(r) if r.url.endswith("/api/predict") else None)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # What the Content-Security-Policy blocks shows only as a console error: count it as a page error.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Content Security" in m.text else None)
    page.context_has_touch = bool(context_options.get("has_touch"))
    page.goto(f"{service.base_url}/")
    page.wait_for_selector("html[data-ready=true]", timeout=15_000)
    page.js_errors = errors
    return page


def open_screen(browser, service, requests_seen, screen: str):
    """A page on one of SCREENS ("desktop" or "phone"), ready."""
    return open_page(browser, service, requests_seen, **SCREENS[screen])


def on_screen(page, locator) -> dict:
    """The locator's box in the viewport (``bounding_box()``), with ``inside``: whether all of it is on screen now."""
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not shown"
    view = page.viewport_size
    inside = box["x"] >= -0.5 and box["y"] >= -0.5 and box["x"] + box["width"] <= view["width"] + 0.5 \
        and box["y"] + box["height"] <= view["height"] + 0.5
    return {**{k: round(v, 1) for k, v in box.items()}, "inside": inside}


def pad_strokes(page, strokes, canvas_size: int = 280) -> list:
    """Strokes in canvas pixels, in page (CSS) pixels on the pad's on-screen box."""
    import numpy as np

    box = pad(page).bounding_box()
    scale = np.array([box["width"], box["height"]]) / canvas_size
    origin = np.array([box["x"], box["y"]])
    return [np.asarray(stroke, float) * scale + origin for stroke in strokes]


def draw_strokes(page, strokes, canvas_size: int = 280) -> None:
    """Draw strokes given in canvas pixels: by touch on a touch screen, else with the mouse."""
    on_pad = pad_strokes(page, strokes, canvas_size)
    if page.context_has_touch:
        replay_with_touch(page, on_pad)
    else:
        replay_with_mouse(page, on_pad)


def replay_with_mouse(page, strokes) -> None:
    """Draw ``strokes`` (arrays of page (CSS) pixel points) with the mouse."""
    for stroke in strokes:
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(x, y)
        page.mouse.up()


def replay_with_touch(page, strokes) -> None:
    """Draw ``strokes`` (page pixels) with one finger, through DevTools' touch events."""
    cdp = page.context.new_cdp_session(page)
    try:
        for stroke in strokes:
            x, y = stroke[0]
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
            for x, y in stroke[1:]:
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def requests_seen(service):
    """Every URL any page asked for of this service."""
    return []


@pytest.fixture(scope="module")
def no_request_leaves_the_origin(requests_seen, service):
    yield
    origin = urlsplit(service.base_url)
    foreign = [u for u in requests_seen if urlsplit(u)[:2] != origin[:2] and not u.startswith(("data:", "blob:"))]
    assert requests_seen, "no requests were recorded"
    assert not foreign, f"the page made requests outside {service.base_url}: {foreign}"


@pytest.fixture(scope="module")
def page(browser, service, requests_seen):
    page = open_page(browser, service, requests_seen)
    yield page
    assert not page.js_errors, page.js_errors
    page.context.close()


@pytest.fixture
def fresh(page):
    """The desktop page, back on the Draw tab with an empty pad and training consent on."""
    tab(page, "Draw").click()
    clear_pad(page)
    if not consent(page).is_checked():
        consent(page).check()
    return page
