"""What the simulated models see in an image: the ground truth the simulator answers from.

The truth is a property of the image's content, so that tests and load users can check answers:
- BINARY: YES when the image is dark (mean grey level < 128), else NO. This matches the upstream
  scripts' synthetic images and query ("Is the image background black?": black canvas = YES);
- COUNT: the number of separate objects on a plain background: connected regions whose colour
  differs from the background (the median colour of the border), counted at 1/4 scale;
- MULTI_CLASS: the class an image shows is known only from its comment (`class=<index>`); an
  image without one shows class `count` when dark, else class 0;
- clarity: how far the mean grey level is from the decision boundary (0 = ambiguous, 1 = clear);
  a trained model's confidence grows with it.

Decoding a 640x480 JPEG costs ~0.7 ms even when scaled down, too much for the hot path at
thousands of requests per second, so results are cached by a digest of the image data that
leaves out leading JPEG comment (COM) segments: images made unique per request by a comment
(as edgeload's image pools do) are decoded once per distinct picture. An image may also state
its truth in a comment `edgeload:label=YES;count=3;clarity=0.9;class=2` (`;`-separated
key=value fields after `edgeload:`, every field optional, other parts ignored); then nothing is
decoded. Where the
pixels cannot tell (overlapping objects), only such a comment gives the intended answer.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

HINT_PREFIX = b"edgeload:"
_HINT_SCAN_BYTES = 4096
_BRIGHT_MEAN = 128.0
_OBJECT_DIFF = 60  # summed |RGB difference| from the background
_MIN_OBJECT_PIXELS = 30  # at 1/4 scale
_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class Truth:
    label: str  # "YES" | "NO"
    count: int
    clarity: float  # 0..1
    digest: int  # crc32 of the bytes, for stable pseudo-random choices
    class_index: int | None = None  # the class a MULTI_CLASS image shows, where it says


_cache: dict[int, Truth] = {}


def hint_comment(
    label: str | None = None, count: int | None = None, clarity: float | None = None
) -> bytes:
    """The JPEG comment that states an image's truth (for image generators)."""
    parts = []
    if label is not None:
        parts.append(f"label={label}")
    if count is not None:
        parts.append(f"count={count}")
    if clarity is not None:
        parts.append(f"clarity={clarity:.3f}")
    return HINT_PREFIX + ";".join(parts).encode()


def image_truth(data: bytes) -> Truth:
    """The truth of an image, from its comment hint when present, else from its pixels."""
    pos = data.find(HINT_PREFIX, 0, _HINT_SCAN_BYTES)
    if pos >= 0:
        truth = _from_hint(data, pos)
        if truth is not None:
            return truth
    digest = zlib.crc32(memoryview(data)[_skip_comments(data) :])
    cached = _cache.get(digest)
    if cached is not None:
        return cached
    truth = _from_pixels(data, digest)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[digest] = truth
    return truth


def _skip_comments(data: bytes) -> int:
    """Offset just past SOI and any COM segments that follow it (0 if not a JPEG)."""
    if data[:2] != b"\xff\xd8":
        return 0
    pos = 2
    while data[pos : pos + 2] == b"\xff\xfe" and pos + 4 <= len(data):
        pos += 2 + ((data[pos + 2] << 8) | data[pos + 3])
    return pos


def _from_hint(data: bytes, pos: int) -> Truth | None:
    end = pos + len(HINT_PREFIX)
    stop = end
    limit = min(len(data), end + 200)
    while stop < limit and 32 <= data[stop] < 127:
        stop += 1
    fields = {}
    for part in data[end:stop].decode("ascii").split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() in ("label", "count", "clarity", "class"):
            fields[key.strip()] = value.strip()
    if not fields:
        return None
    try:
        label = fields.get("label", "YES").upper()
        count = int(fields.get("count", "1" if label == "YES" else "0"))
        clarity = float(fields.get("clarity", "0.9"))
        class_index = int(fields["class"]) if "class" in fields else None
    except ValueError:
        return None
    if label not in ("YES", "NO"):
        return None
    digest = zlib.crc32(data[pos:stop])
    if class_index is not None and class_index < 0:
        class_index = None
    return Truth(label, max(0, count), min(1.0, max(0.0, clarity)), digest, class_index)


def _from_pixels(data: bytes, digest: int) -> Truth:
    """Decode at 1/4 scale (JPEG draft mode) and measure; undecodable bytes give a weak NO."""
    try:
        import numpy as np
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (max(1, im.width // 4), max(1, im.height // 4)))
            rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    except Exception:
        return Truth("NO", 0, 0.0, digest)
    mean = float(rgb.mean())
    clarity = min(1.0, abs(mean - _BRIGHT_MEAN) / 64.0)
    return Truth("NO" if mean >= _BRIGHT_MEAN else "YES", _count_objects(rgb), clarity, digest)


def _count_objects(rgb) -> int:
    """Connected regions (4-neighbour) that differ from the border's median colour."""
    import numpy as np

    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    background = np.median(border, axis=0)
    mask = np.abs(rgb - background).sum(axis=2) > _OBJECT_DIFF
    height, width = mask.shape
    seen = np.zeros_like(mask)
    count = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        region = 1
        seen[y, x] = True
        stack = [(y, x)]
        while stack:
            cy, cx = stack.pop()
            for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    region += 1
                    stack.append((ny, nx))
        if region >= _MIN_OBJECT_PIXELS:  # JPEG ringing and text specks are not objects
            count += 1
    return count


DEFAULT_PIXELS = 640 * 480
_SOF_MARKERS = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)


def image_pixels(data: bytes) -> int:
    """Width x height from a JPEG's frame header or a PNG's IHDR (no decoding); a default else."""
    if data[:2] == b"\xff\xd8":
        pos, n = 2, len(data)
        while pos + 9 < n:
            if data[pos] != 0xFF:
                break
            marker = data[pos + 1]
            if marker == 0xFF:
                pos += 1
                continue
            length = (data[pos + 2] << 8) | data[pos + 3]
            if marker in _SOF_MARKERS:
                height = (data[pos + 5] << 8) | data[pos + 6]
                width = (data[pos + 7] << 8) | data[pos + 8]
                return max(1, width * height)
            pos += 2 + length
        return DEFAULT_PIXELS
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return max(1, int.from_bytes(data[16:20], "big") * int.from_bytes(data[20:24], "big"))
    return DEFAULT_PIXELS
