"""Bad input never escapes as an exception: it is converted or refused with a reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ballot_reader import images
from ballot_reader.interpret import interpret
from ballot_reader.interpretation import Unreadable
from election.model import BallotKind
from tests.ballot_reader.pages import national, scanned


def test_colour_16_bit_and_float_pages_are_converted_and_read():
    page = scanned(BallotKind.SMD, [], profile="clean").image
    variants = {
        "bgr": cv2.cvtColor(page, cv2.COLOR_GRAY2BGR),
        "bgra": cv2.cvtColor(page, cv2.COLOR_GRAY2BGRA),
        "uint16": page.astype(np.uint16) * 257,
        "float": page.astype(np.float32) / 255,
        "hw1": page[:, :, None],
    }
    for name, image in variants.items():
        reading = interpret(image, national())
        assert reading.readable, (name, reading.reason, reading.detail)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((0, 0), np.uint8),
        np.zeros((10, 10), np.uint8),
        np.full((2000, 1400), 255, np.uint8),
        np.zeros((5, 5, 5, 5), np.uint8),
        "not an array",
        None,
        np.array([["a", "b"]]),
    ],
    ids=["empty", "tiny", "blank-paper", "4d", "string", "none", "text-array"],
)
def test_non_ballots_are_unreadable_not_exceptions(image):
    reading = interpret(image, national())
    assert not reading.readable
    assert reading.reason in (Unreadable.NOT_A_BALLOT, Unreadable.FIDUCIALS_NOT_FOUND)
    assert reading.detail


def test_photo_of_something_else_is_not_a_ballot():
    rng = np.random.default_rng(1)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (1800, 1300), dtype=np.uint8), (0, 0), 3)
    cv2.rectangle(photo, (200, 200), (900, 1200), 30, -1)
    cv2.putText(photo, "PCOS", (300, 700), cv2.FONT_HERSHEY_SIMPLEX, 8, 230, 20)
    reading = interpret(photo, national())
    assert reading.reason is Unreadable.NOT_A_BALLOT


def test_files_that_are_not_images_are_refused_with_the_reason(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("polling station 101", encoding="utf-8")
    with pytest.raises(images.ImageError, match="empty file"):
        images.load(empty)
    with pytest.raises(images.ImageError, match="not an image"):
        images.load(text)
    with pytest.raises(images.ImageError, match="no such file"):
        images.load(tmp_path / "missing.png")
    with pytest.raises(images.ImageError, match="directory"):
        images.load(tmp_path)


def test_image_files_round_trip_through_the_loader(tmp_path):
    page = scanned(BallotKind.SMD, [], profile="clean").image
    for ext in (".png", ".jpg", ".tif"):
        path = tmp_path / f"page{ext}"
        cv2.imwrite(str(path), cv2.cvtColor(page, cv2.COLOR_GRAY2BGR))
        loaded = images.load(path)
        assert loaded.shape == page.shape and loaded.dtype == np.uint8
