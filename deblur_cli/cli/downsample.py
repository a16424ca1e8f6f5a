"""``deblur downsample``: shrink images by an integer factor (area, max-pooling, bilinear)."""

import click

from ..choices import DOWNSAMPLE_METHODS
from .runner import Task, image_command


def process(image, *, factor, method):
    """Shrink one image (colour and alpha alike) by ``factor``.

    Parameters
    ----------
    image : Image
    factor : int
    method : str
        As :func:`..resample.downsample` takes it.

    Returns
    -------
    (Image, dict)
        The smaller image, and the record's parameters: sizes, ``method``, ``factor``.
    """
    import numpy as np

    from ..resample import downsample

    pixels = downsample(image.pixels, factor, method)
    alpha = None if image.alpha is None else np.clip(downsample(image.alpha, factor, method), 0.0, 1.0)
    info = {
        "input_size": f"{image.shape[1]}x{image.shape[0]}",
        "output_size": f"{pixels.shape[1]}x{pixels.shape[0]}",
        "method": method,
        "factor": factor,
    }
    return image.with_pixels(pixels, alpha), info


@image_command(writes_images=True, default_suffix="_down", preload=("deblur_cli.resample",))
@click.option("--factor", "--scale", "factor", type=int, required=True,
              help="Integer shrinking factor N >= 1 (--scale is the same option, as upsample names it).")
@click.option("--method", type=click.Choice(DOWNSAMPLE_METHODS), default=DOWNSAMPLE_METHODS[0], show_default=True,
              help="Block mean, block maximum (max-pooling), or bilinear sampling.")
def command(factor, method, **_):
    """Shrink images by an integer factor: area average, max-pooling or bilinear.

    \b
    The output is (W // N) x (H // N): the bottom rows and right columns that do not
    fill an N x N block are dropped (as PyTorch pooling does), so every method sees
    the same pixels. area = mean of each block (cv2.resize INTER_AREA, avg_pool2d);
    max = maximum of each block (max_pool2d); bilinear = half-pixel bilinear
    sampling (cv2.resize INTER_LINEAR): for N = 2 it equals area, for larger N it
    does not average the whole block and aliases.

    \b
    Alpha is shrunk like the colour channels and clipped to [0, 1].

    \b
    Examples:
      deblur downsample photo.png -o small.png --factor 2
      deblur downsample scans/ --out-dir thumbs/ --factor 4 --method area
    """
    from ..errors import ParameterError

    if factor < 1:
        raise ParameterError(f"--factor/--scale must be an integer >= 1, got {factor}")
    return Task(process, {"factor": factor, "method": method})
