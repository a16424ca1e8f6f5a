"""The checks the numeric entry points make of what they are given (images, kernels, scalars),
and the power-of-two scaling that keeps their float32 computations within range."""

import math
import numbers

import numpy as np

from .errors import InputError, ParameterError

__all__ = ["FLOAT32_MAX", "as_image", "as_kernel", "image_array", "check_values", "check_bool", "check_int", "check_real", "check_size",
           "range_exponent", "scaled_down", "scaled_back"]


def check_bool(value, name):
    """``value`` as a bool, if it is one (Python's or NumPy's); else a ParameterError (``"no"`` is not False)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be True or False, got {value!r}")
    return bool(value)


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


def check_size(value, name):
    """``value`` as a (height, width) pair of ints >= 1 (a tuple, list or array of two integers); else a ParameterError."""
    if isinstance(value, np.ndarray):
        value = value.tolist()  # numpy integers become ints
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ParameterError(f"{name} must be a pair of integers >= 1, (height, width), got {value!r}")
    return tuple(check_int(side, f"each side of {name}", 1) for side in value)


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


def _sum_of_squares(array):
    """Sum of the squared values in the array's dtype: BLAS for contiguous arrays, no copy for the others."""
    if array.flags.c_contiguous:
        return np.vdot(array, array)
    axes = list(range(array.ndim))
    return np.einsum(array, axes, array, axes, [])


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

    Returns
    -------
    float
        A bound of the values' magnitude, at least ``max |value|`` up to the rounding
        of one square root (for integers, the largest magnitude of their dtype), got
        without another pass over the values: callers use it to tell when a
        computation could leave float32's range.

    Raises
    ------
    InputError
        (or ``error``) Counting each kind of bad value found.
    """
    _check_real_dtype(array, what, source, error)
    if array.dtype.kind != "f":  # integers are finite and fit float32
        return 1.0 if array.dtype.kind == "b" else float(max(-int(np.iinfo(array.dtype).min), np.iinfo(array.dtype).max))
    target = np.dtype(array.dtype if dtype is None else dtype)
    largest = np.finfo(target).max
    # One fast pass: a finite sum of squares means no NaN or infinity (both propagate),
    # and bounds every value, whatever the order and rounding of the sum (adding a square
    # >= 0 never lowers it); a sum that overflows only sends the check on to min and max,
    # which propagate NaN too.
    if target.itemsize >= array.dtype.itemsize:
        with np.errstate(over="ignore", invalid="ignore"):
            squares = _sum_of_squares(array)
        if np.isfinite(squares):
            return math.sqrt(float(squares))
    low, high = array.min(), array.max()
    if -largest <= low and high <= largest:
        return max(-float(low), float(high))
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


def as_kernel(kernel, what, dtype, *, source=None, error=InputError):
    """Check a kernel (PSF, transposed-convolution kernel) and return it as a new C-ordered array.

    Parameters
    ----------
    kernel : array_like
        2-D weights.
    what : str
        What the error message calls it ("the PSF", "kernel").
    dtype : dtype
        Of the result; the weights must fit it.
    source : str, optional
        File the weights came from, named in the error.
    error : type, optional
        The DeblurError class to raise.

    Raises
    ------
    InputError
        (or ``error``) Not a non-empty 2-D array of finite real numbers within ``dtype``'s
        range; the message quotes the shape or the count of bad values.
    """
    try:
        array = np.asarray(kernel)
    except (TypeError, ValueError):
        raise error(f"{what} must be a 2-D array of numbers; its rows differ in length or type", source) from None
    if array.ndim != 2 or array.size == 0:
        raise error(f"{what} must be a non-empty 2-D array, got shape {array.shape}", source)
    check_values(array, what, dtype, source=source, error=error)
    return np.array(array, dtype=dtype, order="C")


def as_image(pixels, *, what="image", dtype=np.float32, min_side=1, return_peak=False):
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
    return_peak : bool, optional
        Also return the bound of the values' magnitude :func:`check_values` gives.

    Returns
    -------
    ndarray, or (ndarray, float) with ``return_peak``

    Raises
    ------
    InputError
        Not an array of real numbers, not 2-D or 3-D, no pixels or channels, a side
        below ``min_side``, or NaN, infinite or (float) values beyond ``dtype``'s range;
        the message quotes the shape or the count of bad values.
    """
    array = image_array(pixels, what=what, min_side=min_side)
    peak = check_values(array, what, dtype)
    array = array if dtype is None else array.astype(dtype, copy=False)
    return (array, peak) if return_peak else array


FLOAT32_MAX = float(np.finfo(np.float32).max)
"""The largest float32, the type images are computed in."""
_HEADROOM = 2.0**120  # below float32's largest value (about 2**128) by a margin for rounding


def range_exponent(bound):
    """The power of two ``k >= 0`` that brings ``bound * 2**-k`` to at most 2**120.

    A computation whose intermediate values are at most ``bound`` in magnitude cannot
    leave float32's range when run on the input scaled by ``2**-k``; as the scaling is by
    a power of two, it is exact (but for values that become subnormal, far below the
    rounding of the large ones). ``bound`` may be ``inf`` only if it is not to be met.
    """
    if bound <= _HEADROOM:
        return 0
    return math.frexp(bound / _HEADROOM)[1]


def scaled_down(array, exponent):
    """``array * 2**-exponent`` (exact, but for subnormals), a new float32 array; ``array`` itself when 0."""
    return array if exponent == 0 else np.ldexp(array, np.int32(-exponent), dtype=np.float32)


def scaled_back(result, exponent, what):
    """``result * 2**exponent`` in place, if it stays finite; else an InputError naming float32's range.

    The slow path of a computation run on scaled values (see :func:`range_exponent`).
    """
    if exponent == 0:
        return result
    with np.errstate(over="ignore"):
        np.ldexp(result, exponent, out=result)
    if not (np.isfinite(result.min()) and np.isfinite(result.max())):  # min and max propagate NaN
        raise InputError(
            f"{what} leaves float32's range (magnitude up to {FLOAT32_MAX:.3g}); scale the input down"
        )
    return result
