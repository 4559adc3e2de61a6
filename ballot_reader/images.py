"""Getting any scanner output into the one form the reader works on: 2-D uint8 grey.

Scanners and users hand over PNG, JPEG or TIFF files, colour or grey, 8 or 16 bits, with
or without alpha; tests hand over numpy arrays.  Everything is converted here, once, so
the rest of the reader never branches on format.  A file that is not an image is a
:class:`ImageError` (a user error: the CLI prints one line), never an OpenCV exception.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from election.errors import PcosLabError

MIN_SIDE = 64
"""Smaller images cannot hold a ballot at any resolution the reader accepts; they are
refused as not a ballot rather than passed to the detector."""


class ImageError(PcosLabError):
    """A file or array that is not a usable image: missing, empty, undecodable, wrong shape."""

    code = "bad_image"


def load(path: str | Path) -> np.ndarray:
    """Decode an image file to uint8 grey; raises :class:`ImageError` with the reason."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ImageError(f"is a directory, not an image: {path}") from None
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return decode(data, str(path))


def decode(data: bytes, name: str = "image") -> np.ndarray:
    """Decode encoded image bytes (any format OpenCV reads) to uint8 grey."""
    if not data:
        raise ImageError(f"{name}: empty file")
    buffer = np.frombuffer(data, np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None:
        raise ImageError(f"{name}: not an image OpenCV can decode")
    return to_gray(image, name)


def to_gray(image: object, name: str = "image") -> np.ndarray:
    """Any 2-D or 3-D numeric array (grey, BGR, BGRA; uint8, uint16, float in 0..1) → uint8 grey.

    Colour is converted by luminance, 16-bit and float are rescaled, alpha is dropped
    (a scanner has no transparency).  The result is C-contiguous, as cv2 needs.
    """
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name}: expected an image array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        image = _to_uint8(image[:, :, :3], name)
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim != 2:
        raise ImageError(f"{name}: expected a grey or colour image, got shape {image.shape}")
    return np.ascontiguousarray(_to_uint8(image, name))


def _to_uint8(image: np.ndarray, name: str) -> np.ndarray:
    if image.size == 0:
        raise ImageError(f"{name}: empty image")
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if np.issubdtype(image.dtype, np.floating):
        finite = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.round(np.clip(finite, 0.0, 1.0) * 255).astype(np.uint8)
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(image, 0, 255).astype(np.uint8)
    raise ImageError(f"{name}: unsupported pixel type {image.dtype}")
