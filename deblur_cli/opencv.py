"""What OpenCV takes at once: arrays of many channels go through it in groups."""

import numpy as np

__all__ = ["MAX_CHANNELS", "in_channel_groups"]

MAX_CHANNELS = 128
"""Most channels an OpenCV matrix holds (CV_CN_MAX: 128 from OpenCV 5, 512 before)."""


def in_channel_groups(function, array, *args, **kwargs):
    """``function(array, *args, **kwargs)`` on at most :data:`MAX_CHANNELS` channels at a time.

    Parameters
    ----------
    function : callable
        Takes an (H, W) or (H, W, C) array first and returns an array with the same
        channel axis.
    array : ndarray
        (H, W) or (H, W, C).

    Returns
    -------
    ndarray
        The results of the channel groups, joined along the last axis.
    """
    if array.ndim < 3 or array.shape[2] <= MAX_CHANNELS:
        return function(array, *args, **kwargs)
    return np.concatenate(
        [function(array[..., i : i + MAX_CHANNELS], *args, **kwargs) for i in range(0, array.shape[2], MAX_CHANNELS)],
        axis=2,
    )
