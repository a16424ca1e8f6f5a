"""The checks the numeric entry points make of what they are given: images and scalars."""

import numbers

import numpy as np

from .errors import InputError, ParameterError

__all__ = ["as_image", "image_array", "check_values", "check_int", "check_real"]


def check_int(value, name, minimum, maximum=None):
    """``value`` as an int, if it is an integer (not a bool) in [``minimum``, ``maximum``]; else a ParameterError.

    NumPy integer scalars count as integers; floats, even integral ones, and strings do
    not. No ``maximum``: no upper bound.
    """
    domain = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer {domain}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ParameterError(f"{name} must be an integer {domain}, got {value}")
    return int(value)


def check_real(value, name, rule="a number"):
    """``value`` as a float, if it is a real number (not a bool nor a string); else a ParameterError.

    ``rule`` completes the message, "{name} must be {rule}, got {value!r}"; the caller
    checks the range (NaN and infinities pass here).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be {rule}, got {value!r}")
    return float(value)


def _plural(count, noun, rest=""):
    return f"{count} {noun}{'' if count == 1 else 's'}{rest}"


def _check_shape(array, what, min_side):
    if array.ndim not in (2, 3) or min(array.shape) < 1:
        raise InputError(f"{what} must be a non-empty (H, W) or (H, W, C) array, got shape {array.shape}")
    height, width = array.shape[:2]
    if min(height, width) < min_side:
        raise InputError(f"{what} of {width}x{height} pixels is too small: {min_side}x{min_side} at least are needed")


def _check_real_dtype(array, what, source=None, error=InputError):
    if array.dtype.kind not in "biuf":
        raise error(f"{what} must hold real numbers, got {array.dtype}", source)


def check_values(array, what, dtype=None, *, source=None, error=InputError):
    """Refuse an array that is not of real numbers, or holds NaN, infinite or out-of-range values.

    Parameters
    ----------
    array : ndarray
        The values.
    what : str
        What the error message calls them.
    dtype : dtype, optional
        Float type the values are to fit; by default the array's own.
    source : str, optional
        File the values came from, named in the error.
    error : type, optional
        The DeblurError class to raise.

    Raises
    ------
    InputError
        (or ``error``) Counting each kind of bad value found.
    """
    _check_real_dtype(array, what, source, error)
    if array.dtype.kind != "f":
        return  # integers are finite and fit float32
    target = np.dtype(array.dtype if dtype is None else dtype)
    largest = np.finfo(target).max
    # One fast pass: a finite sum means no NaN or infinity (NaN propagates, inf - inf is NaN);
    # a sum that overflows only sends the check on to min and max, which propagate NaN too.
    if target.itemsize >= array.dtype.itemsize:
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.add.reduce(array, axis=None)):
                return
    if -largest <= array.min() and array.max() <= largest:
        return
    finite = np.isfinite(array)
    counts = [
        (int(np.count_nonzero(np.isnan(array))), "NaN value", ""),
        (int(np.count_nonzero(np.isinf(array))), "infinite value", ""),
        (int(np.count_nonzero(np.abs(array[finite]) > largest)), "value", f" beyond {target.name}'s range"),
    ]
    found = ", ".join(_plural(*count) for count in counts if count[0])
    within = f" within {target.name}'s range" if counts[2][0] else ""
    raise error(f"{what} holds {found}; give finite values{within}", source)


def image_array(pixels, *, what="image", min_side=1):
    """An image array of real numbers, its shape and dtype checked but not its values.

    For callers that find NaN and infinities in a pass of their own (see
    :func:`check_values` otherwise).

    Parameters
    ----------
    pixels : array_like
        Image, (H, W) or (H, W, C).
    what : str, optional
        What the error message calls it.
    min_side : int, optional
        Smallest height and width accepted.

    Returns
    -------
    ndarray
        ``pixels`` as an array, not copied.

    Raises
    ------
    InputError
        Not an array of real numbers (bool, integer or float), not 2-D or 3-D, no
        pixels or channels, or a side below ``min_side``; the message quotes the shape
        or the dtype.
    """
    try:
        array = np.asarray(pixels)
    except (TypeError, ValueError):
        raise InputError(f"{what} is not an array of numbers") from None
    _check_shape(array, what, min_side)
    _check_real_dtype(array, what)
    return array


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
    array = image_array(pixels, what=what, min_side=min_side)
    check_values(array, what, dtype)
    return array if dtype is None else array.astype(dtype, copy=False)
