"""``deblur deconv``: Wiener deconvolution of images with a given PSF."""

import click

from ..choices import BLUR_KINDS, BOUNDARY_MODES, REGULARISERS
from .options import Number
from .psf import PSF_OPTIONS, psf_options
from .runner import Task, image_command


def process(image, *, psf, psf_info, nsr, reg, boundary, psf_kind=None):
    """Deblur one image's colour channels (alpha untouched).

    ``psf=None`` estimates the PSF from the image itself (``--psf auto``); the
    estimate (kind, parameters, confidence, noise) is recorded as ``psf``. When no
    blur is identified the image is returned as it is, with ``nsr_source`` "none":
    even with the identity kernel, Wiener would scale it by 1 / (1 + NSR).

    Parameters
    ----------
    image : Image
        The blurred image.
    psf : ndarray or None
        The kernel, or None to estimate it (of kind ``psf_kind``, all kinds when None).
    psf_info : dict or None
        What the record says of a given PSF.
    nsr : float or "auto"
    reg, boundary : str
        As :func:`..deconv.wiener` takes them.
    psf_kind : str, optional

    Returns
    -------
    (Image, dict)
        The deblurred image, and the record's parameters: ``psf``, ``nsr``,
        ``nsr_source``, ``reg``, ``boundary``.
    """
    from ..deconv import wiener

    if psf is None:
        from ..estimate import estimate_psf

        psf, found = estimate_psf(image.pixels, psf_kind)
        psf_info = {"source": "estimated", **{k: v for k, v in found.items() if k not in ("scores", "candidates")},
                    "size": f"{psf.shape[1]}x{psf.shape[0]}"}
        if found["kind"] == "none":
            return image, {"psf": psf_info, "nsr": None, "nsr_source": "none", "reg": reg, "boundary": boundary}
    pixels, used = wiener(image.pixels, psf, nsr, reg=reg, boundary=boundary, return_nsr=True)
    info = {"psf": psf_info, "nsr": used, "nsr_source": "gcv" if nsr == "auto" else "given",
            "reg": reg, "boundary": boundary}
    return image.with_pixels(pixels), info


def _nsr(nsr_text, snr_db):
    """NSR from --nsr (a number > 0, or 'auto') or --snr-db (NSR = 10^(-X/10))."""
    from ..deconv import check_nsr
    from ..errors import ParameterError

    if nsr_text is not None and snr_db is not None:
        raise ParameterError("give --nsr or --snr-db, not both")
    if snr_db is not None:
        return 10.0 ** (-snr_db / 10.0)
    if nsr_text is None or nsr_text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(nsr_text)
    except ValueError:
        value = nsr_text  # refused below, in the library's words
    return check_nsr(value, name="--nsr")


@image_command(writes_images=True, default_suffix="_deblurred",
               preload=("deblur_cli.deconv", "deblur_cli.boundary", "deblur_cli.forward", "scipy.fft"))
@psf_options
@click.option("--nsr", "nsr_text", default=None, metavar="X|auto",
              help="Noise-to-signal power ratio (> 0; larger is smoother), or 'auto' to choose it "
                   "by generalised cross-validation on each image. [default: auto]")
@click.option("--snr-db", default=None, metavar="X",
              type=Number("a number of decibels from -300 to 3000", lambda x: -300 <= x <= 3000),  # NSR 1e30..1e-300
              help="Signal-to-noise ratio in dB instead of --nsr: NSR = 10^(-X/10), X from -300 to 3000.")
@click.option("--reg", type=click.Choice(REGULARISERS), default=REGULARISERS[0], show_default=True,
              help="Regulariser R in |H|^2 + NSR |R|^2: identity (classical Wiener) or laplacian "
                   "(penalises roughness).")
@click.option("--boundary", type=click.Choice(BOUNDARY_MODES), default=BOUNDARY_MODES[0],
              show_default=True,
              help="Borders: reflect (mirror into a re-blurred, tapered margin; no ringing from the "
                   "edges), periodic (plain circular, as MATLAB deconvwnr), edgetaper (MATLAB edgetaper).")
@click.option("--psf-kind", type=click.Choice(BLUR_KINDS), default=None,
              help="With an estimated PSF (no PSF option, or --psf auto): look for this kind of blur only.")
def command(motion, defocus, gaussian, psf_file, psf_center, nsr_text, snr_db, reg, boundary, psf_kind, **_):
    """Deblur images by Wiener deconvolution with a given or estimated PSF.

    X = conj(H) G / (|H|^2 + NSR |R|^2) on the DFT of the image, H the transfer
    function of the PSF. All colour channels share one transform; alpha is kept.
    Without a PSF option (or with --psf auto) the PSF of each image is estimated
    from the image (as `deblur estimate` does); when no blur is identified the
    image is left as it is, and what was found is printed on stderr. With -v,
    prints the PSF and NSR used for each image.

    \b
    Examples:
      deblur deconv blurred.png -o sharp.png --motion 15,30 --nsr 0.005
      deblur deconv blurred.png -o sharp.png            # PSF and NSR estimated
    """
    from ..errors import ParameterError
    from .psf import make_psf

    nsr = _nsr(nsr_text, snr_db)
    auto = psf_file is not None and psf_file.strip().lower() == "auto"
    chosen = None if auto else make_psf(motion, defocus, gaussian, psf_file, psf_center)
    if auto and any(option is not None for option in (motion, defocus, gaussian)):
        raise ParameterError(f"--psf auto estimates the PSF; do not also give {PSF_OPTIONS}")
    if auto and psf_center != "none":
        raise ParameterError("--psf-center moves a kernel read with --psf FILE; an estimated PSF is centred already")
    if chosen is None:
        return Task(process, {"psf": None, "psf_info": None, "nsr": nsr, "reg": reg, "boundary": boundary,
                              "psf_kind": psf_kind}, announce=True)
    if psf_kind is not None:
        raise ParameterError("--psf-kind goes with an estimated PSF; drop it, or drop the PSF option")
    kernel, psf_info = chosen
    return Task(process, {"psf": kernel, "psf_info": psf_info, "nsr": nsr, "reg": reg, "boundary": boundary})
