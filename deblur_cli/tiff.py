"""TIFF decoding: the first image (series) of a file, as samples in the file's own meaning.

tifffile reads the file. The photometric interpretation is applied here, so that
every image comes out as grey or RGB, with or without unassociated alpha:

- 2- and 4-bit samples are scaled exactly to 8 bits (times 85 and 17, as libpng does);
  other integer depths than 1, 8 and 16 bits are refused, and so are signed samples and
  1-bit images of several samples;
- one extra sample is alpha, whatever its ExtraSamples type; more are refused;
- MINISWHITE grey is inverted (max - value; float has no defined white and is refused),
  its alpha is not;
- a palette (PALETTE) becomes RGB through its colormap: 8-bit when every entry is an
  8-bit value (stored as it is, times 257 or times 256), else 16-bit;
- associated (premultiplied) alpha is un-premultiplied (colour / alpha where alpha > 0,
  rounded), so that alpha is always unassociated inside;
- CMYK (SEPARATED), Lab, YCbCr outside JPEG and other colour spaces are refused.

Compressions (LZW, JPEG, ...) and bit unpacking are imagecodecs' work, through tifffile:
exact, and damaged data raises (where the codec can tell) instead of printing from C.
"""

import contextlib
import io
import logging
import re
import threading

import numpy as np
import tifffile
from tifffile import COMPRESSION, EXTRASAMPLE, PHOTOMETRIC

from .errors import InputError
from .images import _check_pixel_count, _short

__all__ = ["decode_tiff"]

_INTEGER_DEPTHS = (1, 2, 4, 8, 16)  # 1-bit samples come as bool
_SCALE_TO_8_BITS = {2: 85, 4: 17}


class _HoldRecords(logging.Filter):
    """Keep the records logged by one thread, instead of letting them reach the handlers."""

    def __init__(self):
        super().__init__()
        self.thread = threading.get_ident()
        self.messages = []

    def filter(self, record):
        if record.thread != self.thread:
            return True
        self.messages.append(re.sub(r"^<[^>]*>\s*", "", record.getMessage()))  # drop "<tifffile.TiffPages @8> "
        return False


@contextlib.contextmanager
def _tifffile_records_held():
    """tifffile's log records of this thread, held back (not printed) while the block runs."""
    held = _HoldRecords()
    logger = logging.getLogger("tifffile")
    logger.addFilter(held)
    try:
        yield held.messages
    finally:
        logger.removeFilter(held)


def decode_tiff(data, path, max_pixels):
    """The first image of a TIFF, samples last: (H, W) or (H, W, S), planar files too.

    Parameters
    ----------
    data : bytes
        The file's content.
    path : str or None
        Named in errors.
    max_pixels : int or None
        Images with more pixels are refused before their data is decoded.

    Returns
    -------
    ndarray
        Grey or RGB, then alpha (unassociated) if any; uint8, uint16, bool or float.

    Raises
    ------
    InputError
        A damaged file, a stack of images (pages of one size), more pixels than
        ``max_pixels``, or a layout, sample type or colour space not supported.
    """
    with _tifffile_records_held() as messages:
        try:
            with tifffile.TiffFile(io.BytesIO(data)) as tiff:
                series, axes, shape = _first_image(tiff, messages, path)
                _check_pixel_count(shape[axes.index("Y")] * shape[axes.index("X")], path, max_pixels)
                page = series.keyframe
                _check_supported(page, path)
                try:
                    array = series.asarray().reshape(shape)  # without the length-1 axes of a shaped series
                except Exception as e:
                    if "imagecodecs" in str(e):  # a broken installation
                        raise InputError(f"{_describe(page)} needs the imagecodecs package: pip install imagecodecs",
                                         path) from None
                    raise InputError(
                        f"cannot decode {_describe(page)}: {_short(e)}; the file is damaged or truncated", path
                    ) from None
        except InputError:
            raise
        except Exception as e:
            raise InputError(f"cannot decode TIFF: {_short(e)}; the file is damaged or truncated", path) from None
    if "S" in axes:
        array = np.moveaxis(array, axes.index("S"), -1)
    return _unassociated(_photometric_applied(array, page, path), page)


def _squeezed(image):
    """Axes and shape of a series or page without its length-1 axes (but Y and X)."""
    kept = [i for i, (axis, size) in enumerate(zip(image.axes, image.shape)) if axis in "YX" or size > 1]
    return "".join(image.axes[i] for i in kept), tuple(image.shape[i] for i in kept)


def _first_image(tiff, messages, path):
    """The first series (the first image; a thumbnail of another size is a series of its own).

    Returns the series, its axes and its shape without length-1 axes; refused unless one
    2-D image, grey or colour: a stack of pages of one size (a volume, a time series)
    would lose all but one page.
    """
    if not tiff.series:
        reason = f" ({messages[0]})" if messages else ""
        raise InputError(f"TIFF holds no readable image{reason}; the file is damaged or truncated", path)
    series = tiff.series[0]
    axes, shape = _squeezed(series)
    if set(axes) - set("YXS"):
        raise InputError(
            f"unsupported TIFF layout: axes {axes} of shape {shape}, not one 2-D image "
            "(grey or colour, with or without alpha); save one image per file",
            path,
        )
    return series, axes, shape


def _check_supported(page, path):
    """Refuse signed samples, integer depths other than 1, 2, 4, 8 and 16 bits (1 bit for
    grey alone), more than one extra sample (alpha), and colour spaces other than grey,
    RGB and palette (YCbCr only inside JPEG, which is decoded to RGB)."""
    photometric = page.photometric
    bits = page.bitspersample
    if page.sampleformat == 2:
        raise InputError(f"signed {bits}-bit samples in a TIFF are not supported; use 8-bit, 16-bit or float images",
                         path)
    if page.sampleformat == 3 and photometric == PHOTOMETRIC.MINISWHITE:
        raise InputError("float MINISWHITE (white is 0) TIFF has no defined white level; save it as MINISBLACK", path)
    if page.sampleformat != 3 and bits not in _INTEGER_DEPTHS:
        raise InputError(f"{bits}-bit samples in a TIFF are not supported; save it with 8 or 16 bits", path)
    if bits == 1 and page.samplesperpixel > 1:
        raise InputError("1-bit TIFF of several samples (colour or alpha) is not supported; save it with 8 bits",
                         path)
    if len(page.extrasamples) > 1:
        raise InputError(f"TIFF with {len(page.extrasamples)} extra samples is not supported, only one (alpha); "
                         "save it without the others", path)
    if photometric in (PHOTOMETRIC.MINISWHITE, PHOTOMETRIC.MINISBLACK, PHOTOMETRIC.RGB, PHOTOMETRIC.PALETTE):
        if photometric == PHOTOMETRIC.PALETTE and page.extrasamples:
            raise InputError("palette TIFF with extra samples is not supported; save it as RGB or RGBA", path)
        return
    if photometric == PHOTOMETRIC.YCBCR and page.compression == COMPRESSION.JPEG:
        return
    name = "CMYK" if photometric == PHOTOMETRIC.SEPARATED else getattr(photometric, "name", str(photometric))
    raise InputError(f"{name} TIFF is not supported; convert it to RGB (or grey) first", path)


def _photometric_applied(array, page, path):
    """MINISWHITE inverted, a palette looked up; other samples as they are."""
    if page.photometric == PHOTOMETRIC.PALETTE:
        return _palette_applied(array, page.colormap, path)
    if page.photometric == PHOTOMETRIC.MINISWHITE:
        top = (1 << page.bitspersample) - 1
        if page.extrasamples:  # the alpha after the grey keeps its meaning
            array = np.concatenate([_inverted(array[..., :1], top), array[..., 1:]], axis=-1)
        else:
            array = _inverted(array, top)
    return _full_range(array, page.bitspersample)


def _full_range(array, bits):
    """2- and 4-bit samples (0..3, 0..15) scaled exactly to 8 bits, as libpng does; others as they are."""
    if bits not in _SCALE_TO_8_BITS or array.dtype != np.uint8:
        return array
    return array * np.uint8(_SCALE_TO_8_BITS[bits])


def _inverted(array, top):
    """``top - array``: white is 0 in the file; ``top`` is the largest value of its bit depth."""
    return ~array if array.dtype.kind == "b" else array.dtype.type(top) - array


def _palette_applied(indices, colormap, path):
    """RGB samples of a palette image: 8-bit when the colormap's entries are 8-bit values, else 16-bit.

    TIFF stores colormap entries on 16 bits; writers store 8-bit values as they are (as
    libtiff reads them when none exceeds 255), times 257 or times 256 (Pillow).
    """
    if colormap is None or indices.ndim != 2 or indices.dtype.kind not in "ub":
        raise InputError("palette TIFF without a usable colormap; the file is damaged", path)
    indices = indices.astype(np.intp)
    if indices.max(initial=0) >= colormap.shape[1]:
        raise InputError(
            f"palette TIFF index {indices.max()} is beyond its colormap of {colormap.shape[1]} entries; "
            "the file is damaged",
            path,
        )
    colormap = np.asarray(colormap, np.uint16)
    if colormap.max() < 256:
        table = colormap.astype(np.uint8)
    elif not np.any(colormap % 257):
        table = (colormap // 257).astype(np.uint8)
    elif not np.any(colormap % 256):
        table = (colormap >> 8).astype(np.uint8)
    else:
        table = colormap
    return np.ascontiguousarray(table.T[indices])


def _unassociated(array, page):
    """Colour divided by alpha where alpha > 0 when the file's alpha is associated (premultiplied)."""
    if not page.extrasamples or page.extrasamples[0] != EXTRASAMPLE.ASSOCALPHA:
        return array
    colour, alpha = array[..., :-1].astype(np.float64), array[..., -1:].astype(np.float64)
    covered = np.broadcast_to(alpha > 0, colour.shape)
    # Where alpha is 0 the stored colour is kept (it should be 0, premultiplied).
    if array.dtype.kind == "f":  # kept in float64: a quotient beyond float32 is refused as such by decode_image
        with np.errstate(over="ignore", invalid="ignore"):  # inf (or inf / inf) is refused by decode_image
            np.divide(colour, alpha, out=colour, where=covered)
        return np.concatenate([colour, alpha], axis=-1)
    top = np.iinfo(array.dtype).max
    colour = np.clip(np.rint(np.divide(colour * top, alpha, out=colour.copy(), where=covered)), 0, top)
    return np.concatenate([colour, alpha], axis=-1).astype(array.dtype)


def _describe(page):
    """``LZW-compressed 16-bit colour TIFF`` and the like, for messages."""
    compression = getattr(page.compression, "name", str(page.compression))
    compression = "uncompressed" if compression == "NONE" else f"{compression}-compressed"
    grey = page.photometric in (PHOTOMETRIC.MINISBLACK, PHOTOMETRIC.MINISWHITE)
    kind = "grey" if grey else "palette" if page.photometric == PHOTOMETRIC.PALETTE else "colour"
    if page.extrasamples:
        kind += "+alpha"
    number = {2: " signed", 3: " float"}.get(page.sampleformat, "")
    return f"{compression} {page.bitspersample}-bit{number} {kind} TIFF"
