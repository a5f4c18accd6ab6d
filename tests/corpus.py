"""Generated corpora of malformed input for the robustness tests (nothing binary is committed).

``malformed_images()`` gives (name, bytes) of 200+ files a decoder may meet: truncated, corrupt, thin
(50000x1), tiny, huge by header, odd modes and formats, random bytes behind real magic numbers.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Iterator

from PIL import Image

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` and whose data is a few bytes (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def malformed_images(seed: int = 13) -> Iterator[tuple[str, bytes]]:
    """200+ (name, bytes) pairs, deterministic for ``seed``."""
    rng = random.Random(seed)
    shapes = [(50000, 1), (1, 50000), (1, 1), (2, 2), (3, 40000), (40000, 3), (15, 15), (16, 16), (17, 9000),
              (9000, 17), (1, 2), (2, 1)]
    for width, height in shapes:
        image = Image.new("RGB", (width, height), (rng.randrange(256), 90, 40))
        for fmt in ("JPEG", "PNG", "BMP", "TIFF"):
            if fmt == "JPEG" and max(width, height) > 65500:
                continue
            yield f"thin-{width}x{height}.{fmt.lower()}", encode(image, fmt)
        if max(width, height) <= 16383:
            yield f"thin-{width}x{height}.webp", encode(image, "WEBP")
    modes = ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "I", "F", "I;16", "YCbCr"]
    for mode in modes:
        image = Image.new(mode if mode != "I;16" else "I;16", (64, 48))
        for fmt in ("PNG", "TIFF", "JPEG", "BMP", "WEBP", "GIF"):
            try:
                yield f"mode-{mode}.{fmt.lower()}", encode(image, fmt)
            except (OSError, ValueError, KeyError):
                continue
    good = {fmt: encode(Image.new("RGB", (120, 90), (200, 150, 120)), fmt) for fmt in FORMATS}
    for fmt, data in good.items():
        for cut in (1, 2, 8, 16, 33, len(data) // 3, len(data) // 2, len(data) - 2):
            yield f"truncated-{cut}.{fmt.lower()}", data[:cut]
        for n in range(4):  # flipped bytes after the header
            corrupt = bytearray(data)
            for _ in range(8):
                corrupt[rng.randrange(min(20, len(data) - 1), len(data))] = rng.randrange(256)
            yield f"corrupt-{n}.{fmt.lower()}", bytes(corrupt)
        yield f"magic-then-noise.{fmt.lower()}", data[:12] + bytes(rng.randrange(256) for _ in range(300))
    for width, height in ((100_000, 100_000), (65535, 65535), (2**31 - 1, 1), (1, 2**31 - 1), (0, 10), (10, 0),
                          (7700, 7700), (60000, 1001)):
        yield f"header-{width}x{height}.png", png_header_only(width, height)
    yield "header-16bit-huge.png", png_header_only(30000, 30000, bit_depth=16, colour=6)
    yield "empty.jpg", b""
    yield "one-byte.jpg", b"\xff"
    yield "jpeg-magic-only.jpg", b"\xff\xd8\xff"
    yield "png-magic-only.png", b"\x89PNG\r\n\x1a\n"
    yield "text.jpg", "Xin chào, đây không phải là ảnh".encode()
    yield "svg.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9e9" height="9e9"/>'
    yield "html.jpg", b"<html><script>alert(1)</script></html>"
    yield "zip.png", b"PK\x03\x04" + bytes(100)
    yield "pdf.jpg", b"%PDF-1.4\n" + bytes(100)
    for n in range(12):
        yield f"random-{n}.bin", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
    animated = [Image.new("RGB", (40, 30), (n * 40, 0, 0)) for n in range(3)]
    yield "animated.gif", encode(animated[0], "GIF", save_all=True, append_images=animated[1:])
    yield "animated.webp", encode(animated[0], "WEBP", save_all=True, append_images=animated[1:])
    exif_image = Image.new("RGB", (80, 60), "white")
    for orientation in (0, 2, 5, 8, 9, 255):
        exif = exif_image.getexif()
        exif[0x0112] = orientation
        yield f"exif-orientation-{orientation}.jpg", encode(exif_image, "JPEG", exif=exif.tobytes())
    yield "exif-garbage.jpg", encode(exif_image, "JPEG", exif=b"Exif\x00\x00" + bytes(rng.randrange(256) for _ in range(200)))


# --- requests ----------------------------------------------------------------------------------------------

HOSTILE_FIELD_VALUES = {
    "nul": "a\x00b", "long": "Nguyễn " * 800, "superscript": "²", "huge_int": "99999999999999999999",
    "negative": "-1", "crlf": "x\r\nSet-Cookie: a=b", "year_1": "0001-01-01", "year_9999": "9999-12-31",
    "empty": "", "control": "\x1b[31mred",
}

FORMS = {  # path template -> a valid form; {ids} are filled in by the test
    "/admin/classes": {"code": "7C9", "grade": "7", "school_year": "2026-2027"},
    "/admin/classes/{class_id}": {"code": "6A1", "grade": "6", "school_year": "2026-2027", "teacher_ids": "1"},
    "/admin/cameras": {"name": "gate-9", "location": "Cổng sau"},
    "/admin/school": {"name": "THCS Lê Lợi", "timezone": "Asia/Ho_Chi_Minh", "school_days": "1",
                      "on_time_cutoff": "07:00", "absence_cutoff": "09:00"},
    "/admin/school/holidays": {"first": "2026-09-02", "last": "2026-09-02", "name": "Quốc khánh"},
    "/admin/students": {"student_code": "HS900", "full_name": "Lý Văn Tài", "class_id": "{class_id}",
                        "date_of_birth": "02/09/2014", "consent_given": "on", "consent_by": "Mẹ"},
    "/admin/students/{student_id}/edit": {"student_code": "HS001", "full_name": "Nguyễn Văn An",
                                          "class_id": "{class_id}", "active": "on", "date_of_birth": ""},
    "/admin/users": {"username": "newteacher", "password": "a long pass phrase 42",
                     "password_confirm": "a long pass phrase 42", "role": "teacher", "full_name": "Cô Hoa",
                     "class_ids": "{class_id}"},
    "/admin/users/{user_id}": {"full_name": "Cô Lan", "active": "on", "class_ids": "{class_id}"},
    "/classes/{class_id}/override": {"student_id": "{student_id}", "date": "2026-09-07", "action": "excused",
                                     "reason": "ốm"},
    "/login": {"username": "nobody", "password": "wrong password", "next": "/today"},
    "/language": {"language": "en", "next": "/today"},
    "/admin/school/holidays#delete": {"action": "delete", "holiday_id": "1"},
    "/admin/users/{user_id}#password": {"action": "password", "password": "a long pass phrase 42",
                                        "password_confirm": "a long pass phrase 42"},
    "/students/{student_id}/delete": {"confirm_code": "HS999"},
    "/admin/students/{student_id}/active": {"back": "list"},
    "/unknown/{unknown_id}/assign": {"student_id": "{student_id}"},
    "/account/password": {"current_password": "wrong password", "password": "a long pass phrase 42",
                          "password_confirm": "a long pass phrase 42"},
    "/admin/students/import": {"action": "confirm", "table": '[["student_code","full_name","class"]]',
                               "school_year": "2026-2027"},
}

PAGES = {"/today": ("school",), "/classes/{class_id}": ("date",), "/classes/{class_id}/report": ("month",),
         "/students/{student_id}": ("month",), "/reports": ("month", "class_id"),
         "/classes/{class_id}/roll.csv": ("date",), "/classes/{class_id}/report.xlsx": ("month",),
         "/admin/students": ("q", "class_id"), "/unknown": ("date",), "/login": ("next",)}


def malformed_requests() -> Iterator[tuple[str, str, str, dict]]:
    """(label, method, path template, test-client keyword arguments) for 200+ hostile web and API requests."""
    for path, form in FORMS.items():
        for field in form:
            for kind, value in HOSTILE_FIELD_VALUES.items():
                yield f"POST {path} {field}={kind}", "POST", path.split("#")[0], {"data": {**form, field: value}}
    for path, args in PAGES.items():
        for arg in args:
            for kind in ("nul", "superscript", "huge_int", "crlf", "year_1", "year_9999", "long"):
                value = HOSTILE_FIELD_VALUES[kind]
                if arg == "month":
                    value = {"year_1": "0001-01", "year_9999": "9999-12"}.get(kind, value)
                yield f"GET {path}?{arg}={kind}", "GET", path, {"query_string": {arg: value}}
    for big in ("2147483648", "99999999999999999999", "9223372036854775808"):
        for path in ("/classes/{big}", "/students/{big}", "/admin/classes/{big}", "/admin/users/{big}",
                     "/students/{big}/delete", "/media/checkin/{big}.jpg", "/classes/{big}/report"):
            yield f"GET {path} big={big}", "GET", path.replace("{big}", big), {}
    for depth in (50, 1000, 100_000):
        nested = "[" * depth + "]" * depth
        for path in ("/api/v1/checkins", "/api/v1/unknowns", "/api/v1/heartbeat"):
            yield f"API {path} nested {depth}", "POST", path, {"data": nested, "content_type": "application/json",
                                                              "api": "camera"}
            yield f"API {path} nested-object {depth}", "POST", path, {
                "data": '{"events": ' + nested + "}", "content_type": "application/json", "api": "camera"}
    for label, body in {"invalid-utf8": b'{"events": ["\xff\xfe"]}', "nul-bytes": b'{"events": [\x00]}',
                        "lone-surrogate": b'{"events": [{"event_id": "\\ud800"}]}', "huge-number": b'{"events": [1e999999]}',
                        "bigint": b'{"events": [' + b"9" * 5000 + b"]}", "empty": b"", "bom": b"\xef\xbb\xbf{}",
                        "nan": b'{"events": [NaN]}', "not-object": b'"events"'}.items():
        for path in ("/api/v1/checkins", "/api/v1/unknowns", "/api/v1/heartbeat"):
            yield f"API {path} {label}", "POST", path, {"data": body, "content_type": "application/json",
                                                         "api": "camera"}
    for arg, values in {"since": ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "\x00", "²"],
                        "after_id": ["²", "99999999999999999999999", "-1", "\x00"],
                        "limit": ["²", "1e3", "99999999999999999999"]}.items():
        for value in values:
            query = {"since": "2026-09-01T00:00:00Z", arg: value}
            yield f"API /checkins?{arg}={value!r}", "GET", "/api/v1/checkins", {"query_string": query, "api": "integration"}
    for date in ("0001-01-01", "9999-12-31", "²", "\x00", "2026-02-30"):
        yield f"API /roll?date={date!r}", "GET", "/api/v1/roll", {"query_string": {"class": "6A1", "date": date},
                                                                   "api": "integration"}
    for value in ("\x00", "²" * 100, "x" * 100):
        yield f"API /roll?class={value[:5]!r}", "GET", "/api/v1/roll", {"query_string": {"class": value},
                                                                       "api": "integration"}
        yield f"API /gallery?model={value[:5]!r}", "GET", "/api/v1/gallery", {"query_string": {"model": value},
                                                                              "api": "camera"}
