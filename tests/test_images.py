"""Synthetic images: right answers, and unique bytes per request without re-encoding."""

import io
import random

import numpy as np
import pytest
from PIL import Image

from edgeload.images import (
    ImagePool,
    make_binary_image,
    make_count_image,
    with_comment,
)


def pixels(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.int16)


def test_binary_images_are_black_yes_or_white_no_with_a_timestamp():
    rng = random.Random(1)
    black = make_binary_image(320, 240, rng, black=True)
    white = make_binary_image(320, 240, rng, black=False)
    assert (black.answer, white.answer) == ("YES", "NO")
    black_px, white_px = pixels(black.jpeg), pixels(white.jpeg)
    assert black_px.shape == (240, 320, 3)
    assert np.median(black_px) < 10 and np.median(white_px) > 245
    # the timestamp is drawn in the opposite colour
    assert black_px.max() > 200 and white_px.min() < 50


def test_count_images_have_one_roi_per_circle_inside_the_image():
    rng = random.Random(2)
    image = make_count_image(640, 480, rng, count=4)
    assert image.answer == 4 and len(image.rois) == 4
    px = pixels(image.jpeg)
    for roi in image.rois:
        (x0, y0), (x1, y1) = roi.top_left, roi.bottom_right
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and roi.label == "circle"
    # the centre of the first circle is not the canvas colour
    (x0, y0), (x1, y1) = image.rois[0].top_left, image.rois[0].bottom_right
    centre = px[int((y0 + y1) / 2 * 480), int((x0 + x1) / 2 * 640)]
    corner_colours = {tuple(px[0, 0]), tuple(px[-1, -1])}
    assert any(np.abs(centre - np.array(c)).sum() > 30 for c in corner_colours)
    assert make_count_image(64, 48, rng, count=0).rois == ()


def test_pool_bytes_are_unique_per_request_but_decode_to_the_same_picture():
    pool = ImagePool("COUNT", 160, 120, variants=3, seed=5)
    sent = [pool.next() for _ in range(300)]
    assert len({jpeg for jpeg, _ in sent}) == 300
    first, again = sent[0], sent[3]  # the same variant three requests later
    assert first[1] == again[1] == pool.images[0].answer
    assert first[0] != again[0]
    assert np.array_equal(pixels(first[0]), pixels(again[0]))
    assert np.array_equal(pixels(first[0]), pixels(pool.images[0].jpeg))


def test_two_pools_never_send_the_same_bytes():
    a, b = ImagePool("BINARY", 64, 48, seed=1), ImagePool("BINARY", 64, 48, seed=1)
    assert a.token != b.token
    assert {a.next()[0] for _ in range(50)}.isdisjoint({b.next()[0] for _ in range(50)})


def test_binary_pool_holds_both_answers():
    pool = ImagePool("BINARY", 64, 48, variants=4)
    assert [pool.next()[1] for _ in range(4)] == ["YES", "NO", "YES", "NO"]


def test_comment_segment_is_valid_jpeg_structure():
    jpeg = make_binary_image(32, 32, random.Random(0)).jpeg
    tagged = with_comment(jpeg, b"hello")
    assert tagged[:4] == b"\xff\xd8\xff\xfe" and tagged[4:6] == (7).to_bytes(2, "big")
    assert Image.open(io.BytesIO(tagged)).size == (32, 32)
    with pytest.raises(ValueError):
        with_comment(b"not a jpeg", b"x")


@pytest.mark.parametrize(("mode", "w", "h"), [("MULTI", 64, 48), ("BINARY", 0, 48)])
def test_pool_refuses_bad_mode_or_size(mode, w, h):
    with pytest.raises(ValueError):
        ImagePool(mode, w, h)


def test_count_circles_never_overlap_so_counting_blobs_gives_the_answer():
    from edgeload.sim.answers import image_truth

    pool = ImagePool("COUNT", 640, 480, variants=50, seed=11)
    answers = [image.answer for image in pool.images]
    assert len(set(answers)) > 5  # a spread of counts, 0..COUNT_MAX
    for image in pool.images:
        boxes = [(roi.top_left, roi.bottom_right) for roi in image.rois]
        circles = [
            ((x0 + x1) / 2 * 640, (y0 + y1) / 2 * 480, (x1 - x0) / 2 * 640)
            for (x0, y0), (x1, y1) in boxes
        ]
        for i, (ax, ay, ar) in enumerate(circles):
            for bx, by, br in circles[:i]:
                assert ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 > ar + br  # apart, not touching
    # the simulator, decoding the plain JPEG (no truth comment), counts what images.py drew
    decoded = [image_truth(image.jpeg).count for image in pool.images]
    assert decoded == answers
    # and with the per-request comment it reads the same count without decoding
    sent = [pool.next() for _ in range(50)]
    assert [image_truth(jpeg).count for jpeg, _ in sent] == [answer for _, answer in sent]
    assert [answer for _, answer in sent] == answers


def test_the_per_request_comment_states_the_truth_then_the_unique_part():
    from edgeload.sim.answers import image_truth

    pool = ImagePool("BINARY", 64, 48, variants=2, seed=3)
    (yes, yes_answer), (no, no_answer) = pool.next(), pool.next()
    assert (yes_answer, no_answer) == ("YES", "NO")
    assert yes.startswith(b"\xff\xd8\xff\xfe")
    length = int.from_bytes(yes[4:6], "big")
    comment = yes[6 : 4 + length]
    assert comment.startswith(b"edgeload:label=YES;clarity=")
    assert comment.endswith(b";" + pool.token.encode() + b":000000000000")
    assert image_truth(yes).label == "YES" and image_truth(no).label == "NO"
    assert image_truth(yes).clarity > 0.9  # a black canvas is clearly dark

    count = make_count_image(160, 120, random.Random(4), count=3)
    assert count.truth.startswith(b"edgeload:count=3;label=")
    assert image_truth(count.jpeg_with_truth).count == 3
    assert pixels(count.jpeg_with_truth).tolist() == pixels(count.jpeg).tolist()


def test_count_images_too_small_for_their_circles():
    with pytest.raises(ValueError, match="do not fit"):
        make_count_image(8, 8, random.Random(0), count=10)
    for seed in range(20):  # a random count is cut to what fits, and says so in its answer
        image = make_count_image(8, 8, random.Random(seed))
        assert image.answer == len(image.rois) <= 10
