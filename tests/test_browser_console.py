"""The review console (/console) in a real browser: Chromium (Debian's) driven by Playwright, against the real
service with named admin tokens (INKLING_ADMIN_TOKENS=ana:...,bo:...).

Quarantined drawings are made as a vandal makes them: UCI pendigits test digits sent with wrong labels
(as tests/test_curation.py does), with writer ids. The console is driven as a reviewer drives it, by the
keyboard wherever a key is offered, and every decision is checked where it is kept: the service's API
(GET /api/drawings/{id}, GET /api/admin/audit). Screenshots go to ``artifacts/screenshots/console-*.png``.
"""

from __future__ import annotations

import re
import secrets
import time

import pytest

from inkling_testkit.live_service import PROJECT_ROOT, LiveService

pytestmark = pytest.mark.browser
# Every request the digits service's pages make stays on its origin (checked at the module's end); the
# hiragana test checks its own.
SAME_ORIGIN = pytest.mark.usefixtures("no_request_leaves_the_origin")

playwright_sync = pytest.importorskip("playwright.sync_api")
httpx = pytest.importorskip("httpx")
expect = playwright_sync.expect

from tests.browser_pages import SCREENS  # noqa: E402  (after the importorskips)
from tests.test_browser import AXE_PATHS, axe_violations  # noqa: E402

SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
TOKENS = {"ana": "ana-" + secrets.token_hex(12), "bo": "bo-" + secrets.token_hex(12)}
ENV = {"INKLING_DRAWINGS_BURST": "2000", "INKLING_DRAWINGS_PER_MINUTE": "60000",
       "INKLING_ADMIN_TOKENS": ",".join(f"{name}:{token}" for name, token in TOKENS.items())}
TOKEN_KEY = "inkling.console.token"
SPEED_RUN = 50


def auth(name: str = "ana") -> dict:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with LiveService(tmp_path_factory.mktemp("inkling-console"), env=ENV) as svc:
        yield svc


def pen_digits():
    from lab.data import load_pendigits

    try:
        return load_pendigits("test")
    except Exception as error:  # MissingDataError: the shared data folder is not there
        pytest.skip(f"pendigits test set unavailable: {error}")


def data_url(png: bytes) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode()


def send(client, png: bytes, label: int, writer: str | None) -> dict:
    r = client.post("/api/drawings", json={"image": data_url(png), "label": label, "writer": writer, "wait": False})
    assert r.status_code == 201, r.text
    return r.json()


def info(client, drawing_id: str) -> dict:
    r = client.get(f"/api/drawings/{drawing_id}", headers=auth())
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def crowd(client):
    """Drawings in the service: honest ones from three writers, and wrong labels (a digit called the digit
    five on) from a dozen writers, most of which the service holds. Returns {"held": ids, "honest": ids}."""
    from lab.render import render_pendigit

    digits = pen_digits()
    writers = [secrets.token_urlsafe(16) for _ in range(12)]
    honest, wrong, truth = [], [], {}
    for i, digit in enumerate(digits[:24]):
        honest.append(send(client, render_pendigit(digit), digit.label, writers[i % 3])["id"])
    for i, digit in enumerate(digits[200:200 + 3 * SPEED_RUN]):
        drawing_id = send(client, render_pendigit(digit), (digit.label + 5) % 10, writers[3 + i % 9])["id"]
        wrong.append(drawing_id)
        truth[drawing_id] = digit.label
    held = [i for i in wrong if info(client, i)["status"] == "quarantined"]
    assert len(held) >= 2 * SPEED_RUN + 10, f"only {len(held)} of {len(wrong)} wrong labels were held"
    return {"held": held, "honest": honest, "wrong": wrong, "truth": truth}


def queue_ids(client, **params) -> list[str]:
    return [i["id"] for i in client.get("/api/admin/review", params={"limit": 200, **params}, headers=auth()).json()["items"]]


def audit(client, limit: int = 50) -> list[dict]:
    return client.get("/api/admin/audit", params={"limit": limit}, headers=auth()).json()["items"]


# --- the console, found as a reviewer finds it ----------------------------------------


def open_console(browser, service, requests_seen, screen: str = "desktop", token: str | None = None):
    """The console on one of SCREENS; with ``token``, as a tab that signed in with it before (sessionStorage)."""
    context = browser.new_context(**SCREENS[screen])
    context.on("request", lambda request: requests_seen.append(request.url))
    if token is not None:
        context.add_init_script(f"sessionStorage.setItem({TOKEN_KEY!r}, {token!r})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Content Security" in m.text else None)
    page.js_errors = errors
    page.admin_responses = []
    page.on("response", lambda r: page.admin_responses.append((r.url, r.status)) if "/api/admin/" in r.url else None)
    page.goto(f"{service.base_url}/console")
    page.wait_for_selector("html[data-ready=true]", timeout=15_000)
    return page


def login_form(page):
    return page.get_by_role("region", name="Sign in to review")


def token_field(page):
    return page.get_by_label("Admin token")


def sign_in(page, name: str = "ana") -> None:
    token_field(page).fill(TOKENS[name])
    token_field(page).press("Enter")
    expect(queue(page)).to_be_visible()
    expect(queue(page).locator("[data-testid=review-item]").first).to_be_visible()


def queue(page):
    return page.get_by_role("list", name="Drawings, most suspicious first")


def items(page):
    return queue(page).get_by_role("article")


def current(page):
    """The drawing in focus (the one the keys act on)."""
    return queue(page).locator("article.current")


def current_id(page) -> str:
    return current(page).get_attribute("data-id")


def item(page, drawing_id: str):
    return queue(page).locator(f"article[data-id='{drawing_id}']")


def toast(page):
    return page.get_by_role("status").filter(has=page.locator("[data-role=toast-words]"))


def shot(page, name: str, full_page: bool = False):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"console-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def wait_status(client, drawing_id: str, status: str, label: int | None = None, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        now = info(client, drawing_id)
        if now["status"] == status and (label is None or now["label"] == label):
            return now
        assert time.monotonic() < deadline, (drawing_id, now, status, label)
        time.sleep(0.05)


# --- tests ------------------------------------------------------------------------------


def no_data_shown(page, crowd) -> None:
    """Nothing a reviewer would see: no drawing, no image, no id of one anywhere in the page."""
    assert page.locator("[data-testid=review-item]").count() == 0
    assert page.locator("img[src^='blob:']").count() == 0
    html = page.content()
    assert not [i for i in crowd["held"] + crowd["honest"] if i in html]


@SAME_ORIGIN
def test_the_console_is_at_slash_console_and_asks_for_a_token(browser, service, requests_seen, client, crowd):
    r = client.get("/console", follow_redirects=False)
    assert r.status_code in (301, 302, 307, 308) and r.headers["location"].endswith("/console/")
    page_html = client.get("/console/")
    assert page_html.status_code == 200 and "script-src 'self'" in page_html.headers["content-security-policy"]
    page = open_console(browser, service, requests_seen)
    try:
        assert page.url == f"{service.base_url}/console/"
        expect(login_form(page)).to_be_visible()
        expect(token_field(page)).to_be_focused()
        assert page.admin_responses == []  # without a token it asks nothing of the admin API...
        no_data_shown(page, crowd)
        for path in ("/api/admin/review", "/api/admin/audit"):  # ...which would answer 401 anyway
            assert client.get(path).status_code == 401
        shot(page, "login")
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


@SAME_ORIGIN
def test_a_wrong_token_gets_the_login_form_again_and_no_data(browser, service, requests_seen, crowd):
    page = open_console(browser, service, requests_seen)
    try:
        token_field(page).fill("not-" + TOKENS["ana"])
        token_field(page).press("Enter")
        expect(page.get_by_role("alert")).to_have_text(re.compile("That token was not accepted"))
        expect(login_form(page)).to_be_visible()
        assert page.admin_responses and {status for _, status in page.admin_responses} == {401}
        assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
        assert "not-" not in page.url and TOKENS["ana"] not in page.url
        no_data_shown(page, crowd)
        shot(page, "wrong-token")
    finally:
        page.context.close()


@SAME_ORIGIN
def test_an_expired_session_token_gets_the_login_form_and_no_data(browser, service, requests_seen, crowd):
    """A token this tab kept in sessionStorage that the service no longer takes (the operator changed
    INKLING_ADMIN_TOKENS): at load, and in the middle of a session."""
    page = open_console(browser, service, requests_seen, token="bo-" + "0" * 24)
    try:
        expect(page.get_by_role("alert")).to_have_text(re.compile("Your session has ended"))
        expect(login_form(page)).to_be_visible()
        assert page.admin_responses and {status for _, status in page.admin_responses} == {401}
        assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
        no_data_shown(page, crowd)
    finally:
        page.context.close()
    page = open_console(browser, service, requests_seen)
    try:
        sign_in(page)
        assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") == TOKENS["ana"]
        assert TOKENS["ana"] not in page.url and TOKENS["ana"] not in page.evaluate("JSON.stringify(localStorage)")
        page.evaluate(f"sessionStorage.setItem({TOKEN_KEY!r}, 'revoked-token-0123456789')")  # revoked meanwhile
        page.get_by_role("button", name="Refresh").click()
        expect(page.get_by_role("alert")).to_have_text(re.compile("Your session has ended"))
        expect(login_form(page)).to_be_visible()
        expect(queue(page)).to_be_hidden()
        no_data_shown(page, crowd)
        assert page.admin_responses[-1][1] == 401
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


@SAME_ORIGIN
def test_a_deployment_without_admin_says_so(browser, service, requests_seen):
    page = open_console(browser, service, requests_seen)
    try:
        page.route("**/api/admin/**", lambda route: route.fulfill(
            status=403, content_type="application/json",
            body='{"code": "admin_disabled", "detail": "Admin routes are disabled."}'))
        token_field(page).fill(TOKENS["ana"])
        token_field(page).press("Enter")
        expect(page.get_by_role("alert")).to_have_text(re.compile("Admin is disabled on this deployment"))
        expect(token_field(page)).to_be_hidden()
        assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
    finally:
        page.context.close()


@SAME_ORIGIN
def test_each_action_its_undo_and_its_audit_line_by_keyboard(browser, service, requests_seen, client, crowd):
    """a, 0-9, r (the picker), g, d, each undone with u or the toast's Undo: each stored, each in the audit
    log with the reviewer's name; j and k move the focus, which shows."""
    page = open_console(browser, service, requests_seen, token=TOKENS["ana"])
    try:
        expect(items(page).first).to_be_focused()
        first = current_id(page)
        held = info(client, first)

        def undone_by(key_or_click, drawing_id):
            key_or_click()
            wait_status(client, drawing_id, "quarantined", held_label[drawing_id])
            expect(item(page, drawing_id)).to_be_focused()
            entry = audit(client, 1)[0]
            assert (entry["action"], entry["by"], entry["drawing"]) == ("undo", "ana", drawing_id)

        held_label = {}

        def decide(key: str, status: str, label=None, *, then=None) -> str:
            drawing_id = current_id(page)
            held_label[drawing_id] = info(client, drawing_id)["label"]
            page.keyboard.press(key)
            if then:
                then()
            now = wait_status(client, drawing_id, status, label)
            entry = audit(client, 1)[0]
            assert entry["by"] == "ana" and entry["drawing"] == drawing_id and entry["after_status"] == status
            expect(item(page, drawing_id).get_by_test_id("status")).to_have_text(STATUS_WORDS[status])
            return now

        decide("a", "accepted", held["label"])
        expect(toast(page)).to_contain_text("Accepted 1 drawing.")
        assert current_id(page) != first  # focus moved on to the next drawing
        expect(current(page)).to_be_focused()
        undone_by(lambda: page.keyboard.press("u"), first)

        page.keyboard.press("j")
        second = current_id(page)
        decide("7", "relabelled", 7)
        expect(toast(page)).to_contain_text("Relabelled 1 drawing to 7.")
        undone_by(lambda: page.keyboard.press("u"), second)

        decide("d", "discarded")
        expect(toast(page)).to_contain_text("Discarded 1 drawing.")
        undone_by(lambda: toast(page).get_by_role("button", name="Undo").click(), second)

        def pick_four():
            picker = page.get_by_role("dialog", name="Relabel to…")
            expect(picker).to_be_visible()
            expect(picker.get_by_role("combobox")).to_be_focused()
            page.keyboard.type("4")
            expect(picker.get_by_role("option", selected=True)).to_have_text("4")
            shot(page, "desktop-picker")
            page.keyboard.press("Enter")
            expect(picker).to_be_hidden()

        decide("r", "relabelled", 4, then=pick_four)
        undone_by(lambda: page.keyboard.press("u"), second)

        guess = info(client, second)  # g: the models' guess (here what the digit really is)
        queue_item = next(i for i in client.get("/api/admin/review", params={"limit": 200}, headers=auth()).json()["items"]
                          if i["id"] == second)
        decide("g", "relabelled", queue_item["guess"])
        assert queue_item["guess"] != guess["label"]
        undone_by(lambda: page.keyboard.press("u"), second)

        page.keyboard.press("k")
        assert current_id(page) == first
        expect(item(page, first)).to_be_focused()
        outline = current(page).evaluate("e => getComputedStyle(e).outlineStyle + ' ' + getComputedStyle(e).boxShadow")
        assert "solid" in outline or "rgb(79, 70, 229)" in outline  # the focus shows
        # the audit log, newest first: who did what
        page.get_by_role("tab", name="Audit log").click()
        log = page.get_by_role("list", name="Reviews, newest first")
        expect(log.get_by_role("listitem").first).to_contain_text("ana undid a review")
        texts = log.get_by_role("listitem").all_inner_texts()
        assert any(re.search(r"ana relabelled a drawing from \d to 7", t) for t in texts)
        assert any("ana discarded a drawing" in t for t in texts)
        assert any("ana accepted a drawing" in t for t in texts)
        expect(log.locator("img[src^='blob:']").first).to_be_visible()
        shot(page, "desktop-audit")
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


STATUS_WORDS = {"quarantined": "Held for review", "pending": "Learned, not reviewed", "accepted": "Accepted",
                "relabelled": "Relabelled", "discarded": "Discarded"}


@SAME_ORIGIN
def test_bulk_selection_with_keys_and_shift_click(browser, service, requests_seen, client, crowd):
    page = open_console(browser, service, requests_seen, token=TOKENS["bo"])
    try:
        expect(items(page).first).to_be_focused()
        ids = [a.get_attribute("data-id") for a in items(page).all()[:8]]
        # x, two down, shift+x: the first three
        page.keyboard.press("x")
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("Shift+X")
        bulk = page.get_by_role("group", name="Act on the selection")
        expect(bulk).to_contain_text("3 selected")
        shot(page, "desktop-bulk")
        page.keyboard.press("d")
        for drawing_id in ids[:3]:
            wait_status(client, drawing_id, "discarded")
        expect(toast(page)).to_contain_text("Discarded 3 drawings.")
        expect(bulk).to_be_hidden()
        log = audit(client, 3)
        assert {(e["action"], e["by"], e["drawing"]) for e in log} == {("discard", "bo", i) for i in ids[:3]}
        page.keyboard.press("u")  # the whole action back
        for drawing_id in ids[:3]:
            wait_status(client, drawing_id, "quarantined")
        assert {(e["action"], e["by"]) for e in audit(client, 3)} == {("undo", "bo")}
        # shift-click a range of checkboxes, then the selection bar's Accept
        item(page, ids[3]).get_by_role("checkbox").click()
        item(page, ids[6]).get_by_role("checkbox").click(modifiers=["Shift"])
        expect(bulk).to_contain_text("4 selected")
        assert [item(page, i).get_by_role("checkbox").is_checked() for i in ids[2:8]] == [False, True, True, True, True, False]
        bulk.get_by_role("button", name="Accept").click()
        for drawing_id in ids[3:7]:
            wait_status(client, drawing_id, "accepted")
        toast(page).get_by_role("button", name="Undo").click()
        for drawing_id in ids[3:7]:
            wait_status(client, drawing_id, "quarantined")
        # select all, then Esc clears
        page.get_by_role("checkbox", name="Select all shown").check()
        expect(bulk).to_contain_text(f"{items(page).count()} selected")
        items(page).first.focus()
        page.keyboard.press("Escape")
        expect(bulk).to_be_hidden()
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


@SAME_ORIGIN
def test_filters_and_paging(browser, service, requests_seen, client, crowd):
    page = open_console(browser, service, requests_seen, token=TOKENS["ana"])
    try:
        expect(items(page).first).to_be_visible()
        held = queue_ids(client, status="quarantined")
        assert [a.get_attribute("data-id") for a in items(page).all()] == held[:50]  # most suspicious first
        expect(page.get_by_text("50 drawings shown, more to load")).to_be_visible()
        expect(items(page).nth(2).locator("img[src^='blob:']")).to_be_visible()
        shot(page, "desktop-queue")
        page.get_by_role("button", name="Load more").click()
        expect(items(page)).to_have_count(min(100, len(held)))
        shown = [a.get_attribute("data-id") for a in items(page).all()]
        assert shown == held[:100] and len(set(shown)) == len(shown)
        # by label
        page.get_by_label("Label now").select_option("3")
        page.get_by_role("button", name="Apply").click()
        threes = queue_ids(client, status="quarantined", label=3)
        # the first held drawing may already be a 3: wait for the filtered page itself, not its first row
        page.wait_for_function("n => document.querySelectorAll('[data-testid=review-item]').length === n "
                               "&& document.querySelector('[data-testid=queue]').getAttribute('aria-busy') === 'false'",
                               arg=len(threes))
        assert {a.get_attribute("data-id") for a in items(page).all()} == set(threes)
        for row in items(page).all():
            expect(row).to_contain_text("Labelled 3")
        # by writer: click a pseudonym (every status of theirs)
        page.get_by_role("button", name="Reset").click()
        expect(page.get_by_label("Status")).to_have_value("quarantined")
        writer = items(page).first.locator("[data-writer]").inner_text()
        items(page).first.get_by_role("button", name=writer).click()
        expect(page.get_by_label("Writer")).to_have_value(writer)
        expect(page.get_by_label("Status")).to_have_value("")
        page.wait_for_function("n => document.querySelectorAll('[data-testid=review-item]').length === n",
                               arg=len(queue_ids(client, writer=writer)))
        assert {a.get_attribute("data-id") for a in items(page).all()} == set(queue_ids(client, writer=writer))
        # by time: nothing sent after 2100, all of it before
        page.get_by_role("button", name="Reset").click()
        page.get_by_label("Sent from").fill("2100-01-01T00:00")
        page.get_by_role("button", name="Apply").click()
        expect(page.get_by_text("Nothing matches these filters.")).to_be_visible()
        expect(items(page)).to_have_count(0)
        page.get_by_label("Sent from").fill("")
        page.get_by_label("Sent before").fill("2100-01-01T00:00")
        page.get_by_role("button", name="Apply").click()
        expect(items(page)).to_have_count(50)
        # by status: what bo and ana decided is there under its status
        page.get_by_label("Sent before").fill("")
        page.get_by_label("Status").select_option("pending")
        page.get_by_role("button", name="Apply").click()
        expect(items(page).first.get_by_test_id("status")).to_have_text("Learned, not reviewed")
        assert len(queue_ids(client, status="pending")) >= 1
        asked = [u for u, _ in page.admin_responses if "/api/admin/review?" in u]
        assert any("since=2100-01-01T" in u for u in asked) and any("until=2100-01-01T" in u for u in asked)
        assert any("cursor=" in u for u in asked)
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


@SAME_ORIGIN
def test_on_a_phone_by_touch(browser, service, requests_seen, client, crowd):
    page = open_console(browser, service, requests_seen, "phone")
    try:
        token_field(page).fill(TOKENS["ana"])
        page.get_by_role("button", name="Sign in").tap()
        expect(items(page).first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        expect(page.get_by_text("Filters", exact=True)).to_be_visible()
        expect(page.get_by_label("Status")).to_be_hidden()  # folded away on a narrow screen
        first = items(page).first
        drawing_id = first.get_attribute("data-id")
        expect(first.locator("img[src^='blob:']")).to_be_visible()
        shot(page, "phone-queue")
        buttons = first.get_by_role("group").get_by_role("button")
        for box in (b.bounding_box() for b in buttons.all()):
            assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 390
        first.get_by_role("button", name="Accept").tap()
        wait_status(client, drawing_id, "accepted")
        shot(page, "phone-accepted")
        toast(page).get_by_role("button", name="Undo").tap()
        wait_status(client, drawing_id, "quarantined")
        first.get_by_role("button", name="Relabel…").tap()
        picker = page.get_by_role("dialog", name="Relabel to…")
        expect(picker).to_be_visible()
        shot(page, "phone-picker")
        picker.get_by_role("option", name="2").tap()
        wait_status(client, drawing_id, "relabelled", 2)
        first.get_by_role("button", name="Undo").tap()
        wait_status(client, drawing_id, "quarantined")
        page.get_by_role("tab", name="Audit log").tap()
        expect(page.get_by_role("list", name="Reviews, newest first").get_by_role("listitem").first).to_contain_text("ana undid")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, "phone-audit")
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


@SAME_ORIGIN
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_no_serious_accessibility_violations(browser, service, requests_seen, crowd, screen):
    if not AXE_PATHS:
        pytest.skip("axe-core is not fetched (scripts/fetch_axe; scripts/install --dev does it)")
    page = open_console(browser, service, requests_seen, screen)
    found = {}
    try:
        found["login"] = axe_violations(page)
        token_field(page).fill("wrong-token-0123456789")
        token_field(page).press("Enter")
        expect(page.get_by_role("alert")).to_be_visible()
        found["wrong token"] = axe_violations(page)
        sign_in(page)
        expect(items(page).first.locator("img[src^='blob:']")).to_be_visible()
        found["queue"] = axe_violations(page)
        page.keyboard.press("x")
        found["selection"] = axe_violations(page)
        page.keyboard.press("Escape")
        items(page).first.get_by_role("button", name="Relabel…").click()
        found["picker"] = axe_violations(page)
        page.keyboard.press("Escape")
        if screen == "desktop":
            page.get_by_role("button", name="Keys").click()
            found["keys"] = axe_violations(page)
            page.keyboard.press("Escape")
        page.get_by_role("tab", name="Audit log").click()
        found["audit"] = axe_violations(page)
        page.get_by_role("tab", name="Promotions").click()
        expect(page.get_by_role("heading", name="Model promotions")).to_be_visible()
        found["promotions"] = axe_violations(page)
        assert not any(found.values()), found
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


@SAME_ORIGIN
def test_reviewing_speed_keyboard_only(browser, service, requests_seen, client, crowd):
    """50 held drawings reviewed with the keyboard alone: a relabel to what the digit is (0-9), an accept, a
    discard, in turn; each decision stored (checked through the API) and in the audit log."""
    truth = crowd["truth"]
    page = open_console(browser, service, requests_seen, token=TOKENS["ana"])
    try:
        expect(items(page)).to_have_count(50)
        expect(items(page).first.locator("img[src^='blob:']")).to_be_visible()
        expect(items(page).first).to_be_focused()
        ids = [a.get_attribute("data-id") for a in items(page).all()]
        assert all(info(client, i)["status"] == "quarantined" for i in ids)
        plan = {}
        started = time.monotonic()
        for n, drawing_id in enumerate(ids):
            assert current_id(page) == drawing_id
            kind = ("relabel", "accept", "discard")[n % 3]
            plan[drawing_id] = kind
            page.keyboard.press({"relabel": str(truth.get(drawing_id, 0)), "accept": "a", "discard": "d"}[kind])
        expected = {"relabel": "relabelled", "accept": "accepted", "discard": "discarded"}
        for drawing_id in ids:
            label = truth.get(drawing_id, 0) if plan[drawing_id] == "relabel" else None
            wait_status(client, drawing_id, expected[plan[drawing_id]], label, timeout=60)
        seconds = time.monotonic() - started
        expect(page.locator("article[data-busy]")).to_have_count(0)
        log = audit(client, SPEED_RUN)
        assert {e["drawing"] for e in log} == set(ids) and {e["by"] for e in log} == {"ana"}
        rate = SPEED_RUN / seconds * 60
        print(f"\nreviewing speed: {SPEED_RUN} drawings reviewed keyboard-only in {seconds:.1f} s = {rate:.0f} drawings a minute")
        shot(page, "desktop-reviewed")
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


def test_u_never_takes_back_a_colleagues_decision_made_meanwhile(browser, service, requests_seen, client, crowd):
    """ana discards a drawing; bo relabels it (his console, here the API); ana's u then takes back only what she
    did, which is no longer standing: refused, saying who decided, and bo's decision stands."""
    page = open_console(browser, service, requests_seen, token=TOKENS["ana"])
    try:
        expect(items(page).first).to_be_focused()
        drawing_id = current_id(page)
        page.keyboard.press("d")
        wait_status(client, drawing_id, "discarded")
        expect(toast(page)).to_contain_text("Discarded 1 drawing.")
        r = client.post(f"/api/admin/review/{drawing_id}", json={"action": "relabel", "label": 4}, headers=auth("bo"))
        assert r.status_code == 200, r.text
        page.keyboard.press("u")
        expect(toast(page)).to_contain_text("1 drawing was not changed: Cannot undo this drawing: bo reviewed it since")
        expect(item(page, drawing_id)).to_contain_text("bo reviewed it since")
        assert info(client, drawing_id)["status"] == "relabelled" and info(client, drawing_id)["label"] == 4
        assert [(e["action"], e["by"]) for e in audit(client, 2)] == [("relabel", "bo"), ("discard", "ana")]
        # once her console shows bo's decision, taking it back is hers to choose: the row's Undo does
        page.get_by_label("Status").select_option("relabelled")
        page.get_by_role("button", name="Apply").click()
        row = item(page, drawing_id)
        expect(row.get_by_test_id("status")).to_have_text(STATUS_WORDS["relabelled"])
        row.get_by_role("button", name="Undo").click()
        wait_status(client, drawing_id, "discarded")
        assert (audit(client, 1)[0]["action"], audit(client, 1)[0]["by"]) == ("undo", "ana")
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


# --- promotions -------------------------------------------------------------------------------


def refused_run(data_dir) -> str:
    """A retrain run the gate refused, recorded as the job records one (its challengers first), with figures."""
    from service.core.promotions import Promotion, PromotionStore, new_promotion_id
    from service.core.storage import LocalObjects
    from service.core.storage.ids import utc_iso
    from tests.test_promotions import challengers

    store, pid = PromotionStore(LocalObjects(data_dir)), new_promotion_id()
    reason = {"fnn": "not promoted: crowd holdout 96.1% vs 96.4%, p = 0.61 (needs < 0.05 and the challenger ahead)",
              "cnn": "not promoted: crowd holdout 98.2% vs 97.4%, p = 0.08 (needs < 0.05)"}
    acc = {"fnn": (0.964, 0.961, 0.9731, 0.9722), "cnn": (0.974, 0.982, 0.9921, 0.9925)}
    models = {kind: {"promote": False, "reason": reason[kind], "sha256": store.put_challenger(pid, kind, data),
                     "figures": {"crowd": {"n": 500, "champion": acc[kind][0], "challenger": acc[kind][1], "p": 0.08},
                                 "holdout": {"name": "MNIST test", "n": 10000, "champion": acc[kind][2],
                                             "challenger": acc[kind][3]}}}
              for kind, data in challengers(3).items()}
    store.put(Promotion(pid, utc_iso(), "digits", "judged", "; ".join(reason.values()), utc_iso(), {"fnn": 0, "cnn": 0},
                        {"command": "python -m service.retrain", "seed": 3, "crowd_share": 0.12,
                         "data": {"base": 60000, "crowd": 2400}}, models))
    return pid


@SAME_ORIGIN
def test_promotions_a_refused_run_forced_with_a_reason_then_rolled_back(browser, service, requests_seen, client, crowd):
    """The Promotions tab: a refused run with the gate's reason and figures; "Promote anyway" asks why and
    which challengers, and the original is served promoted; "Roll back" asks why and to which version; both
    are in the service's audit log under the reviewer's name."""
    run = refused_run(service.data_dir)
    page = open_console(browser, service, requests_seen, token=TOKENS["ana"])
    try:
        expect(items(page).first).to_be_visible()
        page.get_by_role("tab", name="Promotions").click()
        runs = page.get_by_role("list", name="Retrain runs, newest first")
        card = runs.locator(f"li[data-run='{run}']")
        expect(card).to_be_visible()
        expect(card).to_contain_text("Refused by the gate")
        expect(card).to_contain_text("p = 0.08 (needs < 0.05)")
        expect(card).to_contain_text("trained on 60,000 base and 2,400 crowd drawings")
        cnn = card.locator("section[data-kind=cnn]")
        expect(cnn.get_by_role("row", name="the crowd's 500 newest drawings")).to_contain_text("97.4%")
        expect(cnn.get_by_role("row", name="MNIST test (10,000)")).to_be_visible()
        served = page.get_by_role("list", name="Originals served now")
        expect(served.locator("li[data-model=cnn_original]")).to_contain_text("The shipped weights")
        assert served.get_by_role("button", name="Roll back…").first.is_disabled()  # v0: nothing before it
        shot(page, "desktop-promotions")

        card.get_by_role("button", name="Promote anyway…").click()
        dialog = page.get_by_role("dialog", name="Promote what the gate refused")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Promote", exact=True).click()
        expect(dialog.get_by_role("alert")).to_contain_text("Say why")  # nothing sent without a reason
        assert not [u for u, _ in page.admin_responses if "/force" in u]
        dialog.get_by_role("checkbox", name=re.compile("FNN")).uncheck()
        dialog.get_by_label("Why (kept in the audit log)").fill("the crowd's sevens, checked by hand")
        with page.expect_response(lambda r: r.url.endswith(f"/api/admin/promotions/{run}/force")) as forced:
            dialog.get_by_role("button", name="Promote", exact=True).click()
        assert forced.value.status == 200 and forced.value.json()["versions"] == {"cnn": 1}
        assert forced.value.request.post_data_json == {"why": "the crowd's sevens, checked by hand", "models": ["cnn"]}
        expect(dialog).to_be_hidden()
        expect(toast(page)).to_contain_text("Promoted:")
        expect(card).to_contain_text("Promoted by an admin")
        expect(card.locator("section[data-kind=cnn]")).to_contain_text("served as v1")
        expect(card.locator("section[data-kind=fnn]")).to_contain_text("Not promoted")
        cnn_served = served.locator("li[data-model=cnn_original]")
        expect(cnn_served).to_contain_text("v1")
        expect(cnn_served).to_contain_text("although the gate refused")
        from lab.render import render_pendigit

        probe = data_url(render_pendigit(pen_digits()[0]))
        versions = client.post("/api/predict", json={"image": probe}).json()["versions"]
        models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
        assert models["cnn_original"]["version"] == 1 and models["cnn_original"]["origin"]["by"] == "ana"
        assert models["fnn_original"]["version"] == 0
        assert versions["cnn_original"] == 1 and versions["fnn_original"] == 0  # this worker serves it at once

        cnn_served.get_by_role("button", name="Roll back…").click()
        dialog = page.get_by_role("dialog", name=re.compile("Roll .* back"))
        expect(dialog.get_by_label("Version to serve")).to_have_value("0")
        dialog.get_by_label("Why (kept in the audit log)").fill("sevens fine, fours worse")
        with page.expect_response(lambda r: r.url.endswith("/api/models/cnn_original/rollback")) as rolled:
            dialog.get_by_role("button", name="Roll back", exact=True).click()
        assert rolled.value.status == 200 and rolled.value.json()["version"] == 2
        expect(cnn_served).to_contain_text("Rolled back to v0")
        expect(cnn_served).to_contain_text("sevens fine, fours worse")
        # the run's history stands, and says that what it promoted is no longer what is served
        expect(card).to_contain_text("Promoted by an admin")
        expect(card.locator("section[data-kind=cnn]")).to_contain_text("Promoted as v1; v2 is served now")
        actions = page.get_by_role("list", name="What admins did to the models")
        expect(actions.get_by_role("listitem")).to_have_count(2)
        expect(actions.get_by_role("listitem").first).to_contain_text("ana rolled")
        logged = client.get("/api/admin/audit/models", headers=auth()).json()["items"]
        assert [(e["action"], e["by"], e["why"]) for e in logged] == [
            ("rollback", "ana", "sevens fine, fours worse"), ("force", "ana", "the crowd's sevens, checked by hand")]
        shot(page, "desktop-promotions-done", full_page=True)
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


# --- another alphabet: hiragana ----------------------------------------------------------------


@pytest.fixture(scope="module")
def kana_service(tmp_path_factory):
    from tests.test_browser_hiragana import missing_hiragana_files

    if missing := missing_hiragana_files():
        pytest.skip(f"the hiragana alphabet's files are not there: {missing}")
    with LiveService(tmp_path_factory.mktemp("inkling-console-kana"), env={**ENV, "INKLING_ALPHABET": "hiragana"}) as svc:
        yield svc


def test_hiragana_is_relabelled_through_the_picker_by_its_reading(browser, kana_service):
    """71 labels: no digit keys, but r opens the picker, "ka" narrows it to か, Enter relabels; g takes the
    models' guess; the glyphs are set in Japanese."""
    from tests.test_browser_hiragana import kana

    k = kana()
    with httpx.Client(base_url=kana_service.base_url, timeout=30) as client:
        glyphs = [entry["glyph"] for entry in client.get("/api/config").json()["labels"]]
        writer = secrets.token_urlsafe(16)
        sent = {}
        for char, wrong in zip("あいうえおさしすせそ", "ぬねのはひふへほまみ"):
            body = send(client, k.render_kana(k.clean_drawing(char)), glyphs.index(wrong), writer)
            sent[body["id"]] = char
        statuses = {i: client.get(f"/api/drawings/{i}", headers=auth()).json()["status"] for i in sent}
        seen: list[str] = []  # (the module's requests_seen is the digits service's)
        page = open_console(browser, kana_service, seen, token=TOKENS["ana"])
        try:
            expect(page.get_by_text("Hiragana", exact=True)).to_be_visible()
            if "quarantined" not in statuses.values():  # nothing held: every status then
                page.get_by_label("Status").select_option("")
                page.get_by_role("button", name="Apply").click()
            expect(items(page).first.locator("img[src^='blob:']")).to_be_visible()
            items(page).first.focus()
            drawing_id = current_id(page)
            before = client.get(f"/api/drawings/{drawing_id}", headers=auth()).json()
            assert current(page).locator(".labels [lang=ja]").count() >= 1  # the glyphs in their own language
            page.keyboard.press("3")  # the digits' keys do nothing here
            page.wait_for_timeout(300)
            assert client.get(f"/api/drawings/{drawing_id}", headers=auth()).json()["status"] == before["status"]
            page.keyboard.press("r")
            picker = page.get_by_role("dialog", name="Relabel to…")
            expect(picker.get_by_role("option")).to_have_count(71)
            page.keyboard.type("ka")
            expect(picker.get_by_role("option", selected=True)).to_contain_text("か")
            shot(page, "hiragana-picker")
            if AXE_PATHS:
                assert not axe_violations(page)
            page.keyboard.press("Enter")
            wait_kana = lambda status, label: _wait(client, drawing_id, status, label)  # noqa: E731
            wait_kana("relabelled", glyphs.index("か"))
            expect(item(page, drawing_id).locator(".now")).to_contain_text("か")
            page.keyboard.press("u")
            wait_kana(before["status"], before["label"])
            expect(item(page, drawing_id)).to_be_focused()
            page.keyboard.press("g")  # the models' guess: what the character really is, for these clean ones
            after = _wait(client, drawing_id, "relabelled", None)
            assert glyphs[after["label"]] == sent[drawing_id]
            shot(page, "hiragana-queue")
            if AXE_PATHS:
                assert not axe_violations(page)
            assert not page.js_errors, page.js_errors
            assert seen and all(u.startswith(kana_service.base_url + "/") or u.startswith(("blob:", "data:")) for u in seen)
        finally:
            page.context.close()


def _wait(client, drawing_id, status, label, timeout=10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        now = client.get(f"/api/drawings/{drawing_id}", headers=auth()).json()
        if now["status"] == status and (label is None or now["label"] == label):
            return now
        assert time.monotonic() < deadline, (now, status, label)
        time.sleep(0.05)
