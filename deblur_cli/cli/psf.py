"""``deblur psf``: write a PSF to a file; and the PSF options of ``blur`` and ``deconv``.

``psf_options`` adds ``--motion L,A | --defocus R | --gaussian S | --psf FILE`` and
``--psf-center`` to a command; ``make_psf`` turns the values given into one kernel
(at most one of them) and a JSON-safe description of it.
"""

import click

from ..choices import PSF_CENTERS
from .options import ReadFile, overwrite_option

__all__ = ["command", "psf_options", "make_psf", "PSF_OPTIONS"]

PSF_OPTIONS = "--motion L,A, --defocus R, --gaussian S or --psf FILE"
"""The PSF options, as named in messages."""


class MotionSpec(click.ParamType):
    """``LENGTH,ANGLE``: two numbers, pixels and degrees."""

    name = "L,A"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).replace(" ", "").split(",")
        try:
            length, angle = (float(part) for part in parts)
        except ValueError:
            self.fail(f"{value!r} is not LENGTH,ANGLE (e.g. 15,30: 15 pixels at 30 degrees)", param, ctx)
        return length, angle


def psf_options(command):
    """Add the options that choose a PSF (one of them) to a Click command."""
    options = [
        click.option("--motion", type=MotionSpec(), default=None,
                     help="Motion blur: LENGTH pixels end to end at ANGLE degrees counter-clockwise "
                          "from the +x axis on screen (MATLAB fspecial('motion')), e.g. 15,30."),
        click.option("--defocus", type=float, default=None, metavar="R",
                     help="Out-of-focus blur: a disk of radius R pixels (MATLAB fspecial('disk'))."),
        click.option("--gaussian", type=float, default=None, metavar="S",
                     help="Gaussian blur of standard deviation S pixels."),
        click.option("--psf", "psf_file", type=ReadFile(), default=None, metavar="FILE",
                     help="PSF from a file: .npy, .csv/.txt, or an image ('-': an image on standard input); "
                          "normalised to sum 1, even sizes padded, centre at (h//2, w//2)."),
        click.option("--psf-center", type=click.Choice(PSF_CENTERS), default=PSF_CENTERS[0], show_default=True,
                     help="For --psf: 'centroid' moves the kernel's centroid to its centre pixel "
                          "(an off-centre kernel shifts the result)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_psf(motion=None, defocus=None, gaussian=None, psf_file=None, psf_center="none"):
    """The kernel chosen by the PSF options and a description of it.

    Parameters
    ----------
    motion : (float, float), optional
        Length (pixels) and angle (degrees) of a motion blur.
    defocus : float, optional
        Radius of a defocus blur, pixels.
    gaussian : float, optional
        Standard deviation of a Gaussian blur, pixels.
    psf_file : str, optional
        A PSF file, read by :func:`deblur_cli.psf.load_psf`.
    psf_center : {"none", "centroid"}, optional
        For ``psf_file``: "centroid" moves the kernel's centroid to its centre pixel.

    Returns
    -------
    (ndarray, dict) or None
        The kernel and a JSON-safe description (``kind``, its parameters, and
        ``size`` as "WxH"); None when no PSF option was given.

    Raises
    ------
    ParameterError
        Several PSF options at once, or a value out of its domain.
    InputError
        An unreadable or invalid PSF file.
    """
    from .. import psf
    from ..errors import ParameterError

    given = {name: value for name, value in (("--motion", motion), ("--defocus", defocus),
                                              ("--gaussian", gaussian), ("--psf", psf_file)) if value is not None}
    if len(given) > 1:
        raise ParameterError(f"give one PSF, got {' and '.join(given)}; choose one of {PSF_OPTIONS}")
    if psf_center != "none" and psf_file is None:
        raise ParameterError("--psf-center moves a kernel read with --psf FILE; drop it, or give --psf")
    if not given:
        return None
    if motion is not None:
        kernel, info = psf.motion(*motion), {"kind": "motion", "length": motion[0], "angle": motion[1]}
    elif defocus is not None:
        kernel, info = psf.defocus(defocus), {"kind": "defocus", "radius": defocus}
    elif gaussian is not None:
        kernel, info = psf.gaussian(gaussian), {"kind": "gaussian", "sigma": gaussian}
    else:
        kernel, info = psf.load_psf(psf_file, center=psf_center), {"kind": "file", "file": psf_file,
                                                                   "center": psf_center}
    info["size"] = f"{kernel.shape[1]}x{kernel.shape[0]}"
    return kernel, info


def _encode(kernel, path):
    """Bytes of a PSF file: exact for .npy/.csv/.txt, an image scaled so the peak is white."""
    import io

    import numpy as np

    from ..images import Image, encode_image, format_extension

    extension = format_extension(path) if path != "-" else ".png"
    lower = str(path).lower()
    if lower.endswith(".npy"):
        buffer = io.BytesIO()
        np.save(buffer, kernel)
        return buffer.getvalue()
    if lower.endswith((".csv", ".txt")):
        buffer = io.BytesIO()
        np.savetxt(buffer, kernel, delimiter="," if lower.endswith(".csv") else " ", fmt="%.9g")
        return buffer.getvalue()
    if extension not in (".png", ".tif"):  # JPEG, BMP and WebP hold 8 bits, JPEG with losses
        from ..errors import ParameterError

        told = "cannot tell the format of" if extension is None else "a PSF image is 16-bit PNG or TIFF, not"
        raise ParameterError(f"{told} {path}; use .npy, .csv, .txt, .png or .tif")
    image = Image(kernel / kernel.max(), source_dtype=np.dtype(np.uint16))
    return encode_image(image, extension)


def _write(kernel, output, overwrite):
    from ..images import atomic_write_bytes, check_output_path

    check_output_path(output, overwrite=overwrite)
    atomic_write_bytes(output, _encode(kernel, output), overwrite=overwrite)


def _output_options(function):
    function = overwrite_option(function)
    return click.option("-o", "--output", required=True, metavar="FILE",
                        help="Output: .npy (exact), .csv/.txt (text) or an image (.png, .tif: 16-bit, "
                             "scaled so the peak is white).")(function)


@click.group(name="psf")
def command():
    """Write a motion, defocus or Gaussian PSF to a file.

    The kernel has odd sides, sums to 1 and has its centre at (h//2, w//2). Write
    .npy to reuse it exactly (deblur deconv --psf FILE); an image file shows it,
    scaled so that its peak is white.
    """


@command.command()
@click.option("--length", type=float, required=True, help="Length in pixels, end to end (>= 1).")
@click.option("--angle", type=float, default=0.0, show_default=True,
              help="Degrees counter-clockwise from the +x axis as seen on screen.")
@_output_options
def motion(length, angle, output, overwrite):
    """Linear motion blur: an anti-aliased line (MATLAB fspecial('motion'))."""
    from .. import psf

    _write(psf.motion(length, angle), output, overwrite)


@command.command()
@click.option("--radius", type=float, required=True, help="Radius of the disk in pixels (> 0).")
@_output_options
def defocus(radius, output, overwrite):
    """Out-of-focus blur: a pillbox weighted by pixel area (MATLAB fspecial('disk'))."""
    from .. import psf

    _write(psf.defocus(radius), output, overwrite)


@command.command()
@click.option("--sigma", type=float, required=True, help="Standard deviation in pixels (> 0).")
@_output_options
def gaussian(sigma, output, overwrite):
    """Gaussian blur, truncated at 4 sigma."""
    from .. import psf

    _write(psf.gaussian(sigma), output, overwrite)
