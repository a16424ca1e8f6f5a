"""The check every numeric entry point makes of the image it is given."""

import numpy as np

from .errors import InputError

__all__ = ["as_image"]


def _plural(count, noun):
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _check_shape(array, what, min_side):
    ok_ndim = array.ndim in (2, 3)
    if not ok_ndim or min(array.shape) < 1 or min(array.shape[:2]) < min_side:
        size = "non-empty" if min_side <= 1 else f"at least {min_side}x{min_side} pixel"
        raise InputError(f"{what} must be a {size} (H, W) or (H, W, C) array, got shape {array.shape}")


def _check_values(array, what, dtype):
    if array.dtype.kind not in "biuf":
        raise InputError(f"{what} must hold real numbers, got {array.dtype}")
    if array.dtype.kind != "f":
        return  # integers fit float32's range
    target = np.dtype(dtype or array.dtype)
    largest = np.finfo(target).max
    # min and max propagate NaN: two fast passes, and counting only when something is wrong.
    if -largest <= array.min() and array.max() <= largest:
        return
    finite = np.isfinite(array)
    counts = [
        (int(np.count_nonzero(np.isnan(array))), "NaN value"),
        (int(np.count_nonzero(np.isinf(array))), "infinite value"),
        (int(np.count_nonzero(np.abs(array[finite]) > largest)), f"value beyond {target.name}'s range"),
    ]
    found = ", ".join(_plural(count, noun) for count, noun in counts if count)
    raise InputError(f"{what} holds {found}; give finite pixel values")


def as_image(pixels, *, what="image", dtype=np.float32, min_side=1):
    """Check an image array and return it in ``dtype``.

    Parameters
    ----------
    pixels : array_like
        Image, (H, W) or (H, W, C), of real numbers.
    what : str, optional
        What the error message calls it.
    dtype : dtype or None, optional
        Of the result (no copy when it already has it); None keeps the array's own.
    min_side : int, optional
        Smallest height and width accepted.

    Returns
    -------
    ndarray

    Raises
    ------
    InputError
        Not an array of real numbers, not 2-D or 3-D, no pixels or channels, a side
        below ``min_side``, or NaN, infinite or (float) values beyond ``dtype``'s range;
        the message quotes the shape or the count of bad values.
    """
    try:
        array = np.asarray(pixels)
    except (TypeError, ValueError):
        raise InputError(f"{what} is not an array of numbers") from None
    _check_shape(array, what, min_side)
    _check_values(array, what, dtype)
    return array if dtype is None else array.astype(dtype, copy=False)
