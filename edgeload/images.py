"""Pre-generated synthetic images for image queries, unique per request without re-encoding.

Two kinds, as in the original load tests:
    BINARY  a black or white canvas with a timestamp; the detector asks "Is the image background
            black?", so black is YES and white is NO.
    COUNT   circles of random colours on a canvas of another random colour; the answer is the
            number of circles, and each circle has an ROI (normalised bounding box).

Encoding a 640x480 JPEG costs milliseconds, far too much per request. An `ImagePool` encodes a
handful of variants once per process and makes every request's bytes unique by writing a
per-process token and a counter into a JPEG comment (COM) segment placed right after the
start-of-image marker: decoders ignore comments, so the picture (and its expected answer) is
unchanged, while the bytes, and so any hash- or byte-keyed cache, differ on every request.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import random
import struct
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageDraw, ImageFont

MODES = ("BINARY", "COUNT")
BINARY_QUERY = "Is the image background black?"
COUNT_CLASS_NAME = "circle"
COUNT_MAX = 10

_SOI = b"\xff\xd8"
_COM = b"\xff\xfe"


@dataclass(frozen=True)
class RegionOfInterest:
    """One object in a COUNT image, as a box normalised to 0..1 (x, y from the top left)."""

    label: str
    top_left: tuple[float, float]
    bottom_right: tuple[float, float]


@dataclass(frozen=True)
class SyntheticImage:
    """An encoded image and the answer a correct detector gives for it."""

    jpeg: bytes
    answer: str | int  # "YES"/"NO" for BINARY, the number of circles for COUNT
    rois: tuple[RegionOfInterest, ...] = ()
    width: int = 0
    height: int = 0


def _encode_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _font(height: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    size = max(10, height // 16)
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def make_binary_image(
    width: int, height: int, rng: random.Random, *, black: bool | None = None
) -> SyntheticImage:
    """A black (YES) or white (NO) canvas with the current time written on it."""
    if black is None:
        black = rng.random() < 0.5
    background, ink = ((0, 0, 0), (255, 255, 255)) if black else ((255, 255, 255), (0, 0, 0))
    image = Image.new("RGB", (width, height), background)
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    ImageDraw.Draw(image).text((width // 12, height // 5), stamp, fill=ink, font=_font(height))
    return SyntheticImage(_encode_jpeg(image), "YES" if black else "NO", (), width, height)


def _random_colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def make_count_image(
    width: int,
    height: int,
    rng: random.Random,
    *,
    count: int | None = None,
    max_count: int = COUNT_MAX,
    class_name: str = COUNT_CLASS_NAME,
) -> SyntheticImage:
    """`count` filled circles (random if None) on a coloured canvas, with one ROI per circle."""
    if count is None:
        count = rng.randint(0, max_count)
    diagonal = math.hypot(width, height)
    # circles scale with the image; never wider than the image itself
    r_min = max(1, min(int(diagonal * 0.05), min(width, height) // 2))
    r_max = max(r_min, min(int(diagonal * 0.07), min(width, height) // 2))
    canvas = _random_colour(rng)
    image = Image.new("RGB", (width, height), canvas)
    draw = ImageDraw.Draw(image)
    rois = []
    for _ in range(count):
        r = rng.randint(r_min, r_max)
        cx = rng.randint(r, width - r)
        cy = rng.randint(r, height - r)
        colour = _random_colour(rng)
        while colour == canvas:
            colour = _random_colour(rng)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        rois.append(
            RegionOfInterest(
                class_name,
                ((cx - r) / width, (cy - r) / height),
                ((cx + r) / width, (cy + r) / height),
            )
        )
    return SyntheticImage(_encode_jpeg(image), count, tuple(rois), width, height)


def make_image(mode: str, width: int, height: int, rng: random.Random) -> SyntheticImage:
    """One synthetic image for a detector mode (BINARY or COUNT)."""
    if mode == "BINARY":
        return make_binary_image(width, height, rng)
    if mode == "COUNT":
        return make_count_image(width, height, rng)
    raise ValueError(f"unknown detector mode {mode!r}; use one of {', '.join(MODES)}")


def with_comment(jpeg: bytes, comment: bytes) -> bytes:
    """The same JPEG with a COM segment holding `comment` right after the SOI marker."""
    if not jpeg.startswith(_SOI):
        raise ValueError("not a JPEG: missing the start-of-image marker")
    if len(comment) > 65533:
        raise ValueError("a JPEG comment holds at most 65533 bytes")
    return _SOI + _COM + struct.pack(">H", len(comment) + 2) + comment + jpeg[2:]


@dataclass(frozen=True)
class _Variant:
    head: bytes  # SOI + COM marker + length + the fixed comment prefix
    tail: bytes  # the rest of the original JPEG
    image: SyntheticImage


class ImagePool:
    """Pre-encoded variants of one mode and size; `next()` returns unique bytes per call.

    The cost of `next()` is one counter step, one small format and one bytes join (a copy
    of the image, tens of microseconds at most); no pixel work and no encoding.
    """

    def __init__(
        self, mode: str, width: int, height: int, *, variants: int = 8, seed: int | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown detector mode {mode!r}; use one of {', '.join(MODES)}")
        if width <= 0 or height <= 0:
            raise ValueError("image width and height must be positive")
        rng = random.Random(seed)
        self.mode = mode
        self.width = width
        self.height = height
        # random per pool (not from `seed`), so that two processes never send the same bytes
        self.token = os.urandom(4).hex()
        prefix = b"edgeload:" + self.token.encode() + b":"
        self._variants: list[_Variant] = []
        for i in range(max(1, variants)):
            if mode == "BINARY":  # alternate, so both answers are always in the pool
                image = make_binary_image(width, height, rng, black=(i % 2 == 0))
            else:
                image = make_count_image(width, height, rng)
            comment_len = len(prefix) + 12
            head = _SOI + _COM + struct.pack(">H", comment_len + 2) + prefix
            self._variants.append(_Variant(head, image.jpeg[2:], image))
        self._cycle = itertools.cycle(self._variants)
        self._counter = itertools.count()

    @property
    def images(self) -> list[SyntheticImage]:
        """The pre-generated images (without the per-request comment)."""
        return [v.image for v in self._variants]

    def next(self) -> tuple[bytes, str | int]:
        """Unique JPEG bytes for one request and the answer expected for them."""
        variant = next(self._cycle)
        unique = b"%012x" % (next(self._counter) & 0xFFFFFFFFFFFF)
        return variant.head + unique + variant.tail, variant.image.answer
