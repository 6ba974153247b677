"""Pre-generated synthetic images for image queries, unique per request without re-encoding.

One kind per detector mode (`edgeload.modes`), as in the original load tests:
    BINARY        a black or white canvas with a timestamp; the detector asks "Is the image
                  background black?", so black is YES and white is NO.
    COUNT         0..n circles (n: the detector's max count, 10 by default) of random colours
                  on a canvas of another random colour; the answer is the number of circles,
                  and each circle has an ROI (normalised bounding box).
                  Circles never overlap or touch (a gap of ~2 % of the diagonal between them)
                  and stand out from the canvas, so the picture itself shows the answer:
                  counting separate blobs gives it.
    MULTI_CLASS   one class name (a number "0".."n-1") written large on a coloured canvas; the
                  answer is that class name.
    BOUNDING_BOX  the COUNT picture (0..n circles); the answer is BOUNDING_BOX with one ROI per
                  circle, or NO_OBJECTS for an empty canvas.

Encoding a 640x480 JPEG costs milliseconds, far too much per request. An `ImagePool` encodes a
handful of variants once per process and makes every request's bytes unique by writing a
per-process token and a counter into a JPEG comment (COM) segment placed right after the
start-of-image marker: decoders ignore comments, so the picture (and its expected answer) is
unchanged, while the bytes, and so any hash- or byte-keyed cache, differ on every request.

The same comment states the image's truth first, `edgeload:count=3;label=NO;clarity=0.412;`
(MULTI_CLASS images add `class=<index>`)
then `<token>:<counter>` (`;`-separated key=value fields after `edgeload:`; parts without `=`
are not fields). The simulated endpoint answers from these fields without decoding the image
(`edgeload.sim.answers`); a real endpoint ignores the comment. `clarity` is how far the
picture's mean level is from mid-grey (|mean - 128| / 64, at most 1), as the simulator measures
it from pixels, so both ways give the same answer and confidence.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
import os
import random
import struct
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageDraw, ImageFont, ImageStat

from edgeload import modes as modes_module

MODES = modes_module.MODES
BINARY_QUERY = modes_module.BINARY_QUERY
COUNT_CLASS_NAME = modes_module.OBJECT_CLASS_NAME
COUNT_MAX = modes_module.COUNT_MAX

_SOI = b"\xff\xd8"
_COM = b"\xff\xfe"
TRUTH_PREFIX = b"edgeload:"
# COUNT circles: the gap between two circles' edges, as a fraction of the image diagonal (at a
# quarter of the size, as the simulator looks, still a few pixels: blobs stay apart), and the
# least summed |RGB difference| of a circle's colour from the canvas
_CIRCLE_GAP = 0.02
_MIN_COLOUR_DISTANCE = 240
_PLACEMENT_TRIES = 300


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
    # "YES"/"NO" for BINARY, the number of circles for COUNT, the class name for MULTI_CLASS,
    # BOUNDING_BOX / NO_OBJECTS for BOUNDING_BOX (with the boxes in `rois`)
    answer: str | int
    rois: tuple[RegionOfInterest, ...] = ()
    width: int = 0
    height: int = 0
    # the comment text that states the truth (see the module docstring), without the per-request
    # token; empty for an image made elsewhere
    truth: bytes = b""

    @property
    def jpeg_with_truth(self) -> bytes:
        """The JPEG with its truth comment (the same picture)."""
        return with_comment(self.jpeg, self.truth) if self.truth else self.jpeg


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
    answer = "YES" if black else "NO"
    truth = truth_comment(label=answer, clarity=_clarity(image))
    return SyntheticImage(_encode_jpeg(image), answer, (), width, height, truth)


def _clarity(image: Image.Image) -> float:
    """How far the mean level of all channels is from mid-grey: |mean - 128| / 64, at most 1."""
    mean = sum(ImageStat.Stat(image).mean) / len(image.getbands())
    return min(1.0, abs(mean - 128.0) / 64.0)


def _mean_label(image: Image.Image) -> str:
    """YES for a dark picture (mean level < 128): what the BINARY question asks of a canvas."""
    return "YES" if sum(ImageStat.Stat(image).mean) / len(image.getbands()) < 128.0 else "NO"


def truth_comment(
    *,
    label: str | None = None,
    count: int | None = None,
    clarity: float | None = None,
    class_index: int | None = None,
) -> bytes:
    """The comment text stating an image's truth: `edgeload:count=3;label=NO;clarity=0.412`
    (`class=2;` first for a MULTI_CLASS image)."""
    parts = []
    if class_index is not None:
        parts.append(b"class=%d" % class_index)
    if count is not None:
        parts.append(b"count=%d" % count)
    if label is not None:
        parts.append(b"label=" + label.encode())
    if clarity is not None:
        parts.append(b"clarity=%.3f" % clarity)
    return TRUTH_PREFIX + b";".join(parts)


def _random_colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _distinct_colour(rng: random.Random, canvas: tuple[int, int, int]) -> tuple[int, int, int]:
    """A random colour that stands out from the canvas (summed |RGB difference| >= 240)."""
    while True:
        colour = _random_colour(rng)
        if sum(abs(a - b) for a, b in zip(colour, canvas, strict=True)) >= _MIN_COLOUR_DISTANCE:
            return colour


def _place_circles(
    width: int, height: int, count: int, rng: random.Random, r_min: int, r_max: int, gap: float
) -> list[tuple[int, int, int]]:
    """Up to `count` circles (cx, cy, r) inside the image, each at least `gap` from the others;
    fewer only where no room is found (tiny images)."""
    placed: list[tuple[int, int, int]] = []
    for _ in range(count):
        for _ in range(_PLACEMENT_TRIES):
            r = rng.randint(r_min, r_max)
            cx = rng.randint(r, width - r)
            cy = rng.randint(r, height - r)
            if all(math.hypot(cx - x, cy - y) >= r + q + gap for x, y, q in placed):
                placed.append((cx, cy, r))
                break
        else:
            return placed
    return placed


def make_count_image(
    width: int,
    height: int,
    rng: random.Random,
    *,
    count: int | None = None,
    max_count: int = COUNT_MAX,
    class_name: str = COUNT_CLASS_NAME,
) -> SyntheticImage:
    """`count` filled circles (random if None) on a coloured canvas, with one ROI per circle.

    Circles do not overlap: each is at least ~2 % of the diagonal from the others. Where an
    image is too small for that many (a few pixels across), a random count is cut to what fits,
    and an explicit `count` is a ValueError."""
    wanted = rng.randint(0, max_count) if count is None else count
    if wanted < 0:
        raise ValueError(f"a count image needs a count >= 0, got {wanted}")
    diagonal = math.hypot(width, height)
    gap = max(1.0, diagonal * _CIRCLE_GAP)
    # circles scale with the image; never wider than the image itself
    r_min = max(1, min(int(diagonal * 0.05), min(width, height) // 2))
    r_max = max(r_min, min(int(diagonal * 0.07), min(width, height) // 2))
    canvas = _random_colour(rng)
    circles = _place_circles(width, height, wanted, rng, r_min, r_max, gap)
    while len(circles) < wanted and r_max > 1:  # crowded: smaller circles
        r_max = max(1, int(r_max * 0.8))
        r_min = max(1, min(r_min, int(r_min * 0.8)))
        circles = _place_circles(width, height, wanted, rng, r_min, r_max, gap)
    if len(circles) < wanted and count is not None:
        raise ValueError(f"{count} separate circles do not fit in a {width}x{height} image")
    image = Image.new("RGB", (width, height), canvas)
    draw = ImageDraw.Draw(image)
    rois = []
    for cx, cy, r in circles:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_distinct_colour(rng, canvas))
        rois.append(
            RegionOfInterest(
                class_name,
                ((cx - r) / width, (cy - r) / height),
                ((cx + r) / width, (cy + r) / height),
            )
        )
    n = len(circles)
    truth = truth_comment(count=n, label=_mean_label(image), clarity=_clarity(image))
    return SyntheticImage(_encode_jpeg(image), n, tuple(rois), width, height, truth)


def make_multiclass_image(
    width: int, height: int, rng: random.Random, *, index: int | None = None, n: int = 4
) -> SyntheticImage:
    """Class `index` (random if None) of `n`: its name, a number, written large in a colour
    that stands out from a random canvas. The answer is the class name."""
    if n < 1:
        raise ValueError(f"a multi-class image needs at least one class, got {n}")
    index = rng.randrange(n) if index is None else index
    name = modes_module.class_names(n)[index]
    canvas = _random_colour(rng)
    image = Image.new("RGB", (width, height), canvas)
    draw = ImageDraw.Draw(image)
    font = _sized_font(max(8, int(height * 0.6)))
    left, top, right, bottom = draw.textbbox((0, 0), name, font=font)
    x = max(0, (width - (right - left)) // 2 - left + rng.randint(-width // 10, width // 10))
    y = max(0, (height - (bottom - top)) // 2 - top + rng.randint(-height // 10, height // 10))
    draw.text((x, y), name, fill=_distinct_colour(rng, canvas), font=font)
    truth = truth_comment(class_index=index, label=_mean_label(image), clarity=_clarity(image))
    return SyntheticImage(_encode_jpeg(image), name, (), width, height, truth)


def _sized_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def make_bounding_box_image(
    width: int,
    height: int,
    rng: random.Random,
    *,
    count: int | None = None,
    max_num: int = 10,
    class_name: str = COUNT_CLASS_NAME,
) -> SyntheticImage:
    """The COUNT picture with 0..max_num circles; the answer is the label a bounding-box
    detector is given for it (BOUNDING_BOX with the circles' ROIs, or NO_OBJECTS)."""
    made = make_count_image(
        width, height, rng, count=count, max_count=max_num, class_name=class_name
    )
    label = modes_module.BBOX_FOUND if made.rois else modes_module.BBOX_NONE
    return dataclasses.replace(made, answer=label)


def make_image(
    mode: str,
    width: int,
    height: int,
    rng: random.Random,
    *,
    key: int = 0,
    n: int | None = None,
    count: int | None = None,
) -> SyntheticImage:
    """One synthetic image of a mode. `key` varies the picture the way the image pools do
    (BINARY alternates black and white, MULTI_CLASS cycles through the classes); `n` is the
    mode's size (max count, classes, max boxes; the mode's default if None); `count`: a
    BOUNDING_BOX image shows exactly that many objects (random 0..n if None; ValueError if
    they do not fit)."""
    if mode == "BINARY":
        return make_binary_image(width, height, rng, black=key % 2 == 0)
    size = n if n is not None else modes_module.SPECS[mode].default_n
    if mode == "COUNT":
        return make_count_image(width, height, rng, max_count=size)
    if mode == "MULTI_CLASS":
        return make_multiclass_image(width, height, rng, index=key % size, n=size)
    if mode == "BOUNDING_BOX":
        return make_bounding_box_image(width, height, rng, count=count, max_num=size)
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
    `count`: every BOUNDING_BOX variant shows exactly that many objects (a lens frame).

    The cost of `next()` is one counter step, one small format and one bytes join (a copy
    of the image, tens of microseconds at most); no pixel work and no encoding.
    """

    def __init__(
        self,
        mode: str,
        width: int,
        height: int,
        *,
        variants: int = 8,
        seed: int | None = None,
        n: int | None = None,
        count: int | None = None,
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
        self._variants: list[_Variant] = []
        if mode in ("MULTI_CLASS",) and n is not None:
            variants = max(variants, n)  # every class is in the pool
        for i in range(max(1, variants)):
            # BINARY alternates, so both answers are always in the pool
            image = make_image(mode, width, height, rng, key=i, n=n, count=count)
            # the truth first, then the per-request part: `edgeload:count=3;...;<token>:<n>`
            prefix = (image.truth or TRUTH_PREFIX) + b";" + self.token.encode() + b":"
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
