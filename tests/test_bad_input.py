"""Hostile and broken input over real HTTP (one uvicorn subprocess for the module).

Documented answers (docs/api.md, "Bad input"; service/web/errors.py): body over 1 MB 413 ``too_large``; not JSON
422 ``invalid_json``; wrong shape or type 422 ``invalid_request``; not base64 / not a PNG / over 2048 px /
a decompression bomb 422 ``invalid_image``; blank 422 ``blank_drawing``; unknown or malformed drawing id
404 ``not_found``. Whatever the input, the answer is a 4xx JSON ``{"detail", "code"}``, it comes in bounded
time, and the server stays healthy. (tests/test_api.py covers the friendly cases in-process; this is the
hostile corpus, sent as bytes on the wire.)
"""

from __future__ import annotations

import base64
import http.client
import io
import select
import socket
import struct
import time
import zlib

import httpx
import pytest
from PIL import Image

from inkling_testkit.live_service import LiveService
from inkling_testkit.load_client import UNLIMITED, pendigit_drawings

MAX_SECONDS = 10  # any bad request must be answered within this
SECRET = b"SECRET-NOT-A-DRAWING"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("bad-input")
    # Files a path traversal out of data_dir/drawings/ would reach.
    (data_dir / "secret.png").write_bytes(SECRET)
    (data_dir / "secret.json").write_bytes(b'{"secret": "' + SECRET + b'"}')
    with LiveService(data_dir, UNLIMITED) as svc:
        yield svc


@pytest.fixture(scope="module")
def client(service):
    with httpx.Client(base_url=service.base_url, timeout=60) as c:
        yield c


@pytest.fixture(autouse=True)
def stays_healthy(service):
    """After every test: the server process is alive, healthy, and stored no drawing."""
    yield
    assert service.running, "the server died:\n" + service.log_tail()
    r = httpx.get(f"{service.base_url}/healthz", timeout=10)
    assert r.status_code == 200, r.text
    assert httpx.get(f"{service.base_url}/api/stats", timeout=10).json()["total"] == 0, "bad input was stored"


@pytest.fixture(scope="module")
def drawing():
    return pendigit_drawings(1)[0]


def assert_error(response, status: int | tuple, code: str | tuple | None = None) -> dict:
    """A JSON error of the documented shape, with the expected status (and code)."""
    statuses = status if isinstance(status, tuple) else (status,)
    got = getattr(response, "status_code", None) or getattr(response, "status")
    text = response.text if hasattr(response, "text") else response.body.decode(errors="replace")
    assert got in statuses, f"status {got}, wanted {statuses}: {text[:300]}"
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers.get("content-type", "").startswith("application/json"), headers
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"detail", "code"}, body
    assert isinstance(body["detail"], str) and body["detail"].strip(), body
    assert isinstance(body["code"], str) and body["code"].strip(), body
    if code is not None:
        assert body["code"] in (code if isinstance(code, tuple) else (code,)), body
    return body


def timed(fn, *args, **kwargs):
    started = time.monotonic()
    result = fn(*args, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < MAX_SECONDS, f"took {elapsed:.1f} s"
    return result


# --- raw HTTP, for what httpx would tidy up (paths, chunked bodies) ---------------------------------


class RawResponse:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self):
        import json
        return json.loads(self.body)


def raw_request(service, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """Send ``path`` exactly as given (http.client neither normalises nor re-encodes it)."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return RawResponse(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


def stream_body(service, path: str, total: int, *, chunked: bool, chunk: int = 64 * 1024) -> tuple[RawResponse, int]:
    """POST ``total`` bytes of JSON-ish body in chunks; stop sending as soon as the server answers.

    Returns the response and how many body bytes were sent before it came.
    """
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=30)
    try:
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{service.port}", "Content-Type: application/json"]
        head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sent = 0
        piece = b'{"image": "' + b"A" * (chunk - 11)
        filler = b"A" * chunk
        deadline = time.monotonic() + MAX_SECONDS
        while sent < total and time.monotonic() < deadline:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered (or closed) before taking the whole body
            data = (piece if sent == 0 else filler)[: total - sent]
            try:
                sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n" if chunked else data)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(data)
        if chunked and sent >= total:
            try:
                sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        return RawResponse(response.status, dict(response.getheaders()), response.read()), sent
    finally:
        sock.close()


# --- PNGs, built byte by byte -------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def make_png(width: int, height: int, idat: bytes, *, color_type: int = 0, bit_depth: int = 8) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def square_on_white(side: int) -> bytes:
    """A ``side`` x ``side`` grayscale PNG, white with a black square in the middle: compresses to almost nothing."""
    white, inked = b"\x00" + b"\xff" * side, b"\x00" + b"\xff" * (side // 4) + b"\x00" * (side // 2) + \
        b"\xff" * (side - side // 4 - side // 2)
    raw = b"".join(inked if side // 4 <= y < side // 4 + side // 2 else white for y in range(side))
    return make_png(side, side, zlib.compress(raw, 9))


def pil_png(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


# --- images ------------------------------------------------------------------------------------------


def test_a_good_drawing_is_still_recognised(client, drawing):
    """The corpus below only means something if the same route answers 200 to a real drawing."""
    r = client.post("/api/predict", json={"image": drawing.data_url})
    assert r.status_code == 200 and r.json()["answer"]["digit"] == drawing.label, r.text


@pytest.mark.parametrize("cut", [8, 16, 33, 50, 0.5, 0.9, -30])
def test_truncated_png(client, drawing, cut):
    """Cut inside the header or the pixel data: nothing to decode."""
    png = drawing.png[: int(len(drawing.png) * cut) if isinstance(cut, float) else cut]
    for route in ("/api/predict", "/api/activations", "/api/drawings"):
        payload = {"image": data_url(png), **({"label": drawing.label} if route == "/api/drawings" else {})}
        assert_error(timed(client.post, route, json=payload), 422, "invalid_image")


@pytest.mark.parametrize("cut", [-1, -12, -16, -20])
def test_png_cut_after_its_last_pixel(client, drawing, cut):
    """Only trailers lost (IEND, the IDAT CRC, the zlib checksum): every pixel is there. Pillow decodes such
    files, so 200 is fine; 422 would be too. Never a 5xx."""
    r = timed(client.post, "/api/predict", json={"image": data_url(drawing.png[:cut])})
    if r.status_code != 200:
        assert_error(r, 422, "invalid_image")


def test_png_with_a_broken_checksum(client, drawing):
    png = bytearray(drawing.png)
    png[29] ^= 0xFF  # the IHDR CRC
    assert_error(client.post("/api/predict", json={"image": data_url(bytes(png))}), 422, "invalid_image")


@pytest.mark.parametrize("width,height", [(100_000, 100_000), (2049, 2048), (2048, 2049), (1, 1_000_000),
                                          (0x7FFFFFFF, 0x7FFFFFFF), (0, 10)])
def test_png_declaring_too_many_or_no_pixels(client, width, height):
    """A tiny file whose header declares a huge (or empty) image: refused from the header, fast."""
    png = make_png(width, height, zlib.compress(b"\x00" * 64))
    assert len(png) < 200
    assert_error(timed(client.post, "/api/predict", json={"image": data_url(png)}), 422, "invalid_image")
    assert_error(timed(client.post, "/api/drawings", json={"image": data_url(png), "label": 1}), 422, "invalid_image")


def test_2048_square_png_from_a_tiny_zlib_stream(client):
    """The largest allowed image (4 MP), from a few kB: decoded in bounded time, 200 or 422."""
    png = square_on_white(2048)
    assert len(png) < 20_000
    r = timed(client.post, "/api/predict", json={"image": data_url(png)})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert_error(r, 422, "invalid_image")
    r = timed(client.post, "/api/activations", json={"image": data_url(png)})
    assert r.status_code in (200, 422), r.text


def test_2048_square_rgba_all_zero(client):
    """16 MB of RGBA from a ~16 kB stream; transparent everywhere, so nothing is drawn."""
    raw = (b"\x00" + b"\x00" * 4 * 2048) * 2048
    png = make_png(2048, 2048, zlib.compress(raw, 9), color_type=6)
    assert len(png) < 40_000
    assert_error(timed(client.post, "/api/predict", json={"image": data_url(png)}), 422,
                 ("blank_drawing", "invalid_image"))


def test_idat_inflating_far_past_the_declared_image(client):
    """A 64x64 header with a zlib stream that inflates to 64 MB: only the declared pixels may be decoded."""
    stream = zlib.compressobj(9)
    blob = b"".join(stream.compress(b"\x00" * (1 << 20)) for _ in range(64)) + stream.flush()
    png = make_png(64, 64, blob)
    assert len(png) < 200_000
    assert_error(timed(client.post, "/api/predict", json={"image": data_url(png)}), 422,
                 ("blank_drawing", "invalid_image"))


@pytest.mark.parametrize("name,image", [
    ("jpeg", data_url(pil_png(Image.new("RGB", (280, 280), "white"), "JPEG"))),
    ("gif", data_url(pil_png(Image.new("L", (280, 280), 255), "GIF"))),
    ("svg", data_url(b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>')),
    ("png magic then garbage", data_url(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)),
    ("not base64", "data:image/png;base64,!!!!****"),
    ("data URL without base64", "data:image/png,%89PNG"),
    ("base64 of nothing", "data:image/png;base64,"),
    ("whitespace", "   "),
])
def test_not_a_png(client, name, image):
    assert_error(client.post("/api/predict", json={"image": image}), 422, ("invalid_image", "invalid_request"))


def test_blank_canvas(client):
    body = assert_error(client.post("/api/predict", json={"image": data_url(pil_png(Image.new("L", (280, 280), 255)))}),
                        422, "blank_drawing")
    assert "Nothing drawn" in body["detail"]


# --- bodies --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type,body", [
    ("text/plain", b"hello"),
    ("text/plain", b"7"),
    ("application/x-www-form-urlencoded", b"image=data%3Aimage%2Fpng%3Bbase64%2CAAAA&label=3"),
    ("multipart/form-data; boundary=XyZ",
     b'--XyZ\r\nContent-Disposition: form-data; name="image"; filename="d.png"\r\nContent-Type: image/png\r\n\r\n'
     b"\x89PNG\r\n\x1a\n\r\n--XyZ\r\nContent-Disposition: form-data; name=\"label\"\r\n\r\n3\r\n--XyZ--\r\n"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("application/json", b"not json"),
    ("application/json", b""),
    ("application/json", b'{"image": "abc"'),
    ("application/json", b"\xff\xfe{\x00}\x00"),
    ("application/json", b"[]"),
    ("application/json", b'"a string"'),
    ("application/json", b"null"),
    ("application/json", b"42"),
    (None, b'{"image": 1}'),
])
@pytest.mark.parametrize("route", ["/api/predict", "/api/drawings", "/api/activations"])
def test_wrong_content_type_or_not_json(client, route, content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    r = timed(client.post, route, content=body, headers=headers)
    assert_error(r, (400, 415, 422))


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_valid_json_under_a_form_content_type_is_refused(client, drawing, content_type):
    """A cross-site <form> can send these types without a CORS preflight: they must not store a drawing."""
    body = f'{{"image": "{drawing.data_url}", "label": {drawing.label}}}'.encode()
    assert_error(client.post("/api/drawings", content=body, headers={"Content-Type": content_type}), (400, 415, 422))


def test_not_json_says_so(client):
    assert_error(client.post("/api/predict", content=b"{nope", headers={"Content-Type": "application/json"}),
                 422, "invalid_json")


@pytest.mark.parametrize("body", [b"\xff\xfe\x00", b'{"image": "\xff"}', b"\x80"], ids=["bom-ish", "in-string", "lone"])
def test_body_not_utf8_is_invalid_json(client, body):
    """Not UTF-8 is not JSON (docs/api.md): 422 invalid_json, not FastAPI's own 400 (fixed in 7f3786e6)."""
    assert_error(client.post("/api/predict", content=body, headers={"Content-Type": "application/json"}),
                 422, "invalid_json")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", ["/api/predict", "/api/drawings"])
def test_ten_megabyte_body(service, route, chunked):
    """413 whether the size is declared or only found out while reading a chunked body (the latter got
    FastAPI's 400 until 7f3786e6)."""
    started = time.monotonic()
    response, sent = stream_body(service, route, 10_000_000, chunked=chunked)
    assert time.monotonic() - started < MAX_SECONDS
    assert_error(response, 413, "too_large")
    print(f"413 after {sent / 1e6:.1f} MB sent")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_half_megabyte_body_is_read_and_refused_as_json(service, chunked):
    """Control for the test above: the same framing under the limit reaches the JSON parser (unclosed string)."""
    response, sent = stream_body(service, "/api/predict", 500_000, chunked=chunked)
    assert sent == 500_000
    assert_error(response, 422, "invalid_json")


def test_body_just_over_and_just_under_the_limit(client):
    filler = "A" * (1_000_000 - len('{"image": ""}'))
    assert_error(client.post("/api/predict", content=f'{{"image": "{filler}"}}'.encode(),
                             headers={"Content-Type": "application/json"}), 422, "invalid_image")
    assert_error(client.post("/api/predict", content=f'{{"image": "{filler}A"}}'.encode(),
                             headers={"Content-Type": "application/json"}), 413, "too_large")


# --- labels and flags --------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [
    "٣", "３", "3", " 3", "3 ", "", -1, 10, 256, -0.0, 3.0, 3.5, True, False, None, [3], {"digit": 3},
    2**63, -(2**63) - 1, 10**30,
], ids=repr)
def test_bad_labels(client, drawing, label):
    r = client.post("/api/drawings", json={"image": drawing.data_url, "label": label})
    assert_error(r, 422, "invalid_request")


@pytest.mark.parametrize("label_json", ["NaN", "Infinity", "-Infinity", "1e400", "3e0", "0x3", "03",
                                        "1" + "0" * 5000])
def test_bad_labels_as_raw_json(client, drawing, label_json):
    """Numbers Python's json parser takes but JSON forbids or that are not integers, and a 5001-digit one."""
    body = f'{{"image": "{drawing.data_url}", "label": {label_json}}}'.encode()
    r = timed(client.post, "/api/drawings", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, (400, 422))


def test_missing_label(client, drawing):
    assert_error(client.post("/api/drawings", json={"image": drawing.data_url}), 422, "invalid_request")


@pytest.mark.parametrize("train", ["yes", "true", 1, 0, None, [], {}], ids=repr)
def test_bad_train_flag(client, drawing, train):
    r = client.post("/api/drawings", json={"image": drawing.data_url, "label": drawing.label, "train": train})
    assert_error(r, 422, "invalid_request")


# --- JSON bombs -----------------------------------------------------------------------------------------


DEPTH = 100_000


@pytest.mark.parametrize("name,body", [
    ("arrays", b"[" * DEPTH + b"]" * DEPTH),
    ("objects", b'{"a":' * DEPTH + b"1" + b"}" * DEPTH),
    ("image nested", b'{"image": ' + b"[" * DEPTH + b"]" * DEPTH + b"}"),
    ("label nested", b'{"image": "x", "label": ' + b"[" * DEPTH + b"]" * DEPTH + b"}"),
    ("unclosed", b"[" * 400_000),
    ("many keys", b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(60_000)) + b"}"),
    ("long array", b'{"image": [' + b",".join([b"0"] * 400_000) + b"]}"),
])
@pytest.mark.parametrize("route", ["/api/predict", "/api/drawings"])
def test_json_bomb(client, route, name, body):
    assert len(body) < 1_000_000
    r = timed(client.post, route, content=body, headers={"Content-Type": "application/json"})
    assert_error(r, (400, 422))


# --- drawing ids and paths -------------------------------------------------------------------------------


VALID_LOOKING_ID = "20260101T000000000Z-0123456789"


@pytest.mark.parametrize("path", [
    "/api/drawings/..%2F..%2Fetc%2Fpasswd.png",
    "/api/drawings/..%2Fsecret.png",
    "/api/drawings/..%2f..%2fsecret.png",
    "/api/drawings/%2e%2e%2fsecret.png",
    "/api/drawings/%2e%2e/secret.png",
    "/api/drawings/%2e%2e/%2e%2e/etc/passwd.png",
    "/api/drawings/....%2F%2Fsecret.png",
    "/api/drawings/%252e%252e%252fsecret.png",
    "/api/drawings/..%5Csecret.png",
    "/api/drawings/secret.png",
    "/api/drawings/" + "a" * 5000 + ".png",
    "/api/drawings/" + VALID_LOOKING_ID + ".png",
    "/api/drawings/" + VALID_LOOKING_ID + "%00.png",
    "/api/drawings/" + VALID_LOOKING_ID + "%0A.png",
    "/api/drawings/" + VALID_LOOKING_ID[:-1] + "G.png",
    "/api/drawings/%00.png",
    "/api/drawings/..%00/secret.png",
    "/api/drawings/%D9%A3.png",
    "/api/drawings/.png",
])
def test_drawing_ids_that_are_not_drawings(service, path):
    r = timed(raw_request, service, "GET", path)
    assert_error(r, 404, "not_found")
    assert SECRET not in r.body


@pytest.mark.parametrize("path", [
    "/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%2FREADME.md",
    "/..%2Fservice%2Fsettings.py",
    "/js/..%2F..%2FREADME.md",
    "/%2e%2e%2fREADME.md",
    "/nope",
    "/api/nope",
    "/api/drawings/not-a-png",
    "/api/models/fnn_online",
    "/index.html%00.js",
])
def test_unknown_paths_are_404_json(service, path):
    r = timed(raw_request, service, "GET", path)
    assert_error(r, 404, "not_found")
    assert b"root:" not in r.body and b"INKLING_" not in r.body and b"# Inkling" not in r.body


@pytest.mark.parametrize("method,path", [("POST", "/api/nope"), ("DELETE", "/api/drawings"), ("PUT", "/api/predict"),
                                         ("GET", "/api/predict"), ("POST", "/healthz")])
def test_wrong_method_or_route(service, method, path):
    r = raw_request(service, method, path, body=b"{}", headers={"Content-Type": "application/json"})
    assert_error(r, (404, 405), ("not_found", "method_not_allowed"))


@pytest.mark.parametrize("query", ["label=10", "label=-1", "label=%D9%A3", "label=true", "label=3.5", "limit=0",
                                   "limit=201", "limit=abc", "limit=99999999999999999999999",
                                   "cursor=..%2F..%2Fetc", "cursor=" + "a" * 201, "cursor=%00"])
def test_bad_listing_queries(service, query):
    assert_error(raw_request(service, "GET", "/api/drawings?" + query), 422, ("invalid_request", "invalid_cursor"))


@pytest.mark.parametrize("body", [b'{"version": 0}', b"{}", b'{"version": -1}', b"nope"])
def test_rollback_when_disabled(service, body):
    """No INKLING_ADMIN_TOKEN: rollback is refused (403) or the body is (422); never a change."""
    r = raw_request(service, "POST", "/api/models/fnn_online/rollback", body=body,
                    headers={"Content-Type": "application/json", "Authorization": "Bearer "})
    assert_error(r, (403, 422), ("admin_disabled", "invalid_request", "invalid_json"))
