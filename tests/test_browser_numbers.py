"""The page's Number mode in a real browser: Chromium (Debian's) driven by Playwright, against the real service.

A number is written as a person writes it: the pen strokes of UCI pendigits test digits of one writer, side by
side on the number pad (``lab.numbers.make_number``, apart), replayed with the mouse on a 1280x800 laptop and by
touch on a 390x844 phone. The reading appears as one chip per digit, one digit is corrected through its chip,
the number is saved, and the service's API says each digit was stored as its own labelled drawing naming the
number, and learned. One service and one page load a screen: this module is kept to well under a minute.
Screenshots go to ``artifacts/screenshots/number-*.png``.
"""

from __future__ import annotations

import base64
import re
import time

import numpy as np
import pytest

from inkling_testkit.live_service import LiveService
from tests.browser_pages import on_screen, open_screen, replay_with_mouse, replay_with_touch

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_request_leaves_the_origin")]

playwright_sync = pytest.importorskip("playwright.sync_api")
httpx = pytest.importorskip("httpx")
expect = playwright_sync.expect

from tests.test_browser import AXE_PATHS, axe_violations  # noqa: E402  (after the importorskips)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    pytest.importorskip("service.app")
    env = {"INKLING_DRAWINGS_BURST": "200", "INKLING_DRAWINGS_PER_MINUTE": "6000"}
    with LiveService(tmp_path_factory.mktemp("inkling-browser-numbers"), env=env) as svc:
        yield svc


@pytest.fixture(scope="module")
def numbers(client):
    """Two numbers (3 and 4 digits, each one writer's), each read exactly right by the service from its strokes,
    so that what the page shows can be checked digit by digit."""
    from lab.data import load_pendigits
    from lab.numbers import make_number, median_width, writers_digits
    from lab.render import render_pad

    try:
        digits = load_pendigits("test")
    except Exception as error:  # MissingDataError: the shared data folder is not there
        pytest.skip(f"pendigits test set unavailable: {error}")
    writers = writers_digits(digits)
    rng = np.random.default_rng(27)
    found = []
    for length in (3, 4):
        for _ in range(20):
            mine = writers[sorted(writers)[int(rng.integers(len(writers)))]]
            chosen = [mine[int(i)] for i in rng.choice(len(mine), length, replace=False)]
            number = make_number(chosen, rng, median_width(mine), touching=0.0)
            image = "data:image/png;base64," + base64.b64encode(render_pad(number.strokes)).decode()
            read = client.post("/api/read", json={"image": image, "strokes": number.strokes}).json()
            if read.get("text") == "".join(map(str, number.labels)):
                found.append(number)
                break
        else:
            pytest.fail(f"no {length}-digit number read right in 20 tries")
    return found


def write_number(page, number) -> None:
    """Replays the number's strokes (pad pixels) onto the number pad, by touch on a touch screen."""
    canvas = page.get_by_test_id("number-pad")
    box = canvas.bounding_box()
    size = canvas.evaluate("c => [c.width, c.height]")
    scale = np.array([box["width"], box["height"]]) / np.array(size)
    origin = np.array([box["x"], box["y"]])
    on_page = [np.stack([s[0], s[1]], axis=1) * scale + origin for s in number.strokes]
    (replay_with_touch if page.context_has_touch else replay_with_mouse)(page, on_page)


def chips(page):
    return page.get_by_test_id("chips").get_by_role("button")


def wait_for_reading(page, expected: str) -> None:
    """The reading shown is of the pad as it is now, and says ``expected`` chip by chip."""
    page.locator("[data-testid=chips][data-current=true][aria-busy=false]").wait_for(timeout=20_000)
    expect(chips(page)).to_have_text(list(expected))


def stored(client, drawing_id: str, timeout: float = 20, held_is_enough: bool = False) -> dict:
    """GET /api/drawings/{id}, once every online model has learned it (or it is held for review)."""
    deadline = time.monotonic() + timeout
    while True:
        info = client.get(f"/api/drawings/{drawing_id}").json()
        if info.get("learned") and all(v is not None for v in info["learned"].values()):
            return info
        if held_is_enough and info.get("status") == "quarantined":
            return info
        assert time.monotonic() < deadline, info
        time.sleep(0.2)


@pytest.mark.parametrize("where", ["desktop", "phone"])
def test_write_a_number_correct_a_digit_and_save_it(browser, service, requests_seen, client, numbers, where):
    number = numbers[0] if where == "desktop" else numbers[1]
    text = "".join(map(str, number.labels))
    page = open_screen(browser, service, requests_seen, where)
    try:
        switch = page.get_by_role("group", name="What to write")
        expect(switch.get_by_role("button", name="Digit")).to_have_attribute("aria-pressed", "true")
        switch.get_by_role("button", name="Number").click()
        expect(switch.get_by_role("button", name="Number")).to_have_attribute("aria-pressed", "true")
        pad = page.get_by_role("img", name=re.compile(r"^Number pad\."))
        expect(pad).to_be_visible()
        assert pad.evaluate("c => [c.width, c.height]") == [840, 280]  # the bitmap at the pad's size, CSS-scaled
        assert page.url.endswith("#number")

        write_number(page, number)
        wait_for_reading(page, text)
        expect(page.get_by_test_id("reading-spoken")).to_have_text(f"I read {' '.join(text)}")
        save = page.get_by_role("button", name="Save number")
        # the pad, the reading and Save in one screen, nothing scrolled
        places = {"pad": on_screen(page, pad), "save": on_screen(page, save), "last chip": on_screen(page, chips(page).last)}
        assert all(p["inside"] for p in places.values()) and page.evaluate("scrollY") == 0, places

        # Correct the second digit through its chip: on the laptop by the keyboard and one of its top-3,
        # on the phone by a tap and the grid of every digit.
        fix = page.get_by_test_id("number-fix")
        wrong = (number.labels[1] + 1) % 10 if where == "phone" else None
        if where == "desktop":
            chips(page).first.focus()
            page.keyboard.press("ArrowRight")
            page.keyboard.press("Enter")
            expect(fix).to_be_visible()
            expect(fix.get_by_text("Digit 2: which is it?")).to_be_visible()
            page.keyboard.press("Escape")
            expect(fix).to_be_hidden()
            assert chips(page).nth(1).evaluate("e => e === document.activeElement")
            chips(page).nth(1).click()
            top3 = fix.locator(".fix-top3 button")
            expect(top3).to_have_count(3)
            wrong = int(top3.nth(1).get_attribute("data-digit"))
            top3.nth(1).click()
        else:
            chips(page).nth(1).tap()
            expect(fix).to_be_visible()
            fix.get_by_role("button", name="Another digit").tap()
            fix.get_by_role("button", name=f"It is {'an' if wrong == 8 else 'a'} {wrong}", exact=True).tap()
        expect(fix).to_be_hidden()
        corrected = list(number.labels)
        corrected[1] = wrong
        expect(chips(page)).to_have_text([str(d) for d in corrected])
        expect(chips(page).nth(1)).to_have_attribute("aria-label", re.compile("as you corrected it"))
        page.screenshot(path=str(shot_path(f"number-corrected-{where}")))
        if where == "desktop" and AXE_PATHS:
            assert not axe_violations(page)

        with page.expect_response(lambda r: r.url.endswith("/api/numbers") and r.request.method == "POST") as sent:
            (save.tap if where == "phone" else save.click)()
        assert sent.value.status == 201, sent.value.text()
        saved = sent.value.json()
        said = page.get_by_test_id("number-saved")
        expect(said).to_contain_text(f"Saved, thanks! {''.join(map(str, corrected))}")
        expect(said).to_contain_text(re.compile(r"learned each of your \d digits|Learning"))
        # one item a digit (its drawing's image, unless held for review: the image is then not served)
        expect(said.get_by_role("list", name="The digits saved, each as its own drawing").get_by_role("listitem")) \
            .to_have_count(len(corrected))
        expect(pad).to_have_attribute("data-strokes", "0")
        said.get_by_role("img").first.wait_for()
        page.screenshot(path=str(shot_path(f"number-saved-{where}")))

        # Each digit is its own labelled drawing, naming the number, and the online models learned it: those
        # read right; the "corrected" one (a right reading given a wrong label here) as any single drawing with
        # a label the models doubt is, learned or held for review.
        assert [d["label"] for d in saved["drawings"]] == corrected
        for k, drawing in enumerate(saved["drawings"]):
            info = stored(client, drawing["id"], held_is_enough=k == 1)
            assert info["label"] == drawing["label"] and info["number"] == saved["id"], info
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


def shot_path(name: str):
    from inkling_testkit.live_service import PROJECT_ROOT

    folder = PROJECT_ROOT / "artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def test_the_switch_is_remembered_and_the_digit_pad_is_back(browser, service, requests_seen):
    """The Number mode is remembered in this browser; Digit brings the single pad back (its tab, its hash)."""
    page = open_screen(browser, service, requests_seen, "desktop")
    try:
        page.get_by_role("button", name="Number", exact=True).click()
        page.reload()
        page.wait_for_selector("html[data-ready=true]")
        expect(page.get_by_test_id("number")).to_be_visible()
        page.get_by_role("tab", name="Teach").click()
        expect(page.get_by_role("group", name="What to write")).to_be_hidden()
        page.get_by_role("tab", name="Draw").click()
        expect(page.get_by_test_id("number")).to_be_visible()  # the Draw tab as it was left
        page.get_by_role("button", name="Digit", exact=True).click()
        expect(page.get_by_role("img", name=re.compile(r"^Drawing pad\."))).to_be_visible()
        expect(page.get_by_test_id("number")).to_be_hidden()
        assert page.url.endswith("#draw")
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()
