"""``deblur estimate``: the blur (motion, defocus, Gaussian) and noise of images, from the images alone."""

import click

from ..choices import BLUR_KINDS
from .runner import Task, image_command

_SUMMARY = ("kind", "length", "angle", "radius", "sigma", "confidence", "noise_sigma", "reason")


def process(image, *, kind, detail):
    """Estimate one image's blur; nothing is written, the result is the info.

    Parameters
    ----------
    image : Image
    kind : str or None
        Look for this kind of blur only (None: all).
    detail : bool
        Keep every field of :func:`..estimate.estimate_blur`, not only the summary.

    Returns
    -------
    (None, dict)
        No image, and the estimate.
    """
    from ..estimate import estimate_blur

    info = estimate_blur(image.pixels, kind)
    if not detail:
        info = {key: info[key] for key in _SUMMARY if key in info}
    return None, info


@image_command(writes_images=False, preload=("deblur_cli.estimate", "deblur_cli.estimate_blind", "scipy.fft",
                                              "scipy.ndimage", "scipy.special"))
@click.option("--kind", type=click.Choice(BLUR_KINDS), default=None,
              help="Look for this kind of blur only, and report its best parameters whatever "
                   "the confidence. [default: choose the kind that fits best]")
def command(kind, as_json, report_path, **_):
    """Estimate the blur (motion, defocus, Gaussian) and noise of images.

    The blur leaves its mark in the image's power spectrum: parallel dark stripes
    across the direction of a motion, dark rings for a defocus, a smooth fall-off
    for a Gaussian. Each model is fitted to the spectrum; the one that fits best
    is reported with its parameters (motion: LENGTH in pixels and ANGLE in degrees
    counter-clockwise from +x, as --motion takes them; defocus: RADIUS; Gaussian:
    SIGMA), a confidence in [0, 1], and the noise's standard deviation (fraction
    of full range). When no model fits (a sharp image, pure noise, a flat image)
    the kind is "none": no blur is invented. Images are analysed on a central
    square of up to 512x512 pixels (up to 2x2 such squares on images of 1024 pixels
    and more).

    One line per image, or a JSON report with --json (which adds each kind's
    score and best parameters).

    \b
    Example:
      deblur estimate blurred.png
      deblur estimate photos/ --json > blur.json
    """
    return Task(process, {"kind": kind, "detail": bool(as_json or report_path)}, shown=_SUMMARY)
