"""``deblur blur``: the forward model, to make test images with known blur and noise."""

import click

from .psf import PSF_OPTIONS, psf_options
from .runner import Task, image_command


def image_seed(seed, relpath):
    """Noise seed of one image: from the run's seed and the input's relative name only.

    So a batch gives the same bytes however it is split into shards or jobs, wherever
    its tree is mounted, and on a rerun; and two images of the same name in different
    subdirectories of one batch get different noise.

    Parameters
    ----------
    seed : int
        The run's seed.
    relpath : str
        The input's name relative to the directory or glob it came from
        (:attr:`deblur_cli.batch.Item.relpath`; a file given by name: its base
        name). Separators count as ``/`` on every system.

    Returns
    -------
    int
        A seed in [0, 2**64): the first 8 bytes of SHA-256 of ``"seed:relpath"``.
    """
    import hashlib
    import os

    name = relpath.replace(os.sep, "/")
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def process(image, *, psf, psf_info, noise, seed, relpath):
    """Blur one image's colour channels (alpha untouched) and add noise seeded by ``relpath``.

    Parameters
    ----------
    image : Image
    psf : ndarray
    psf_info : dict
        What the record says of the PSF.
    noise : float
        Standard deviation of the noise, 0 for none.
    seed : int
        The batch's seed; each image's own comes from it and ``relpath``.
    relpath : str
        The input's relative name (see :class:`.runner.Task`).

    Returns
    -------
    (Image, dict)
        The blurred image, and the record's parameters: ``psf``, ``noise``, and with
        noise ``seed`` and ``image_seed``.
    """
    from ..forward import blur

    derived = image_seed(seed, relpath) if noise > 0 else None
    pixels = blur(image.pixels, psf, noise_sigma=noise, seed=derived)
    info = {"psf": psf_info, "noise": noise}
    if derived is not None:
        info["seed"] = seed
        info["image_seed"] = derived
    return image.with_pixels(pixels), info


@image_command(writes_images=True, default_suffix="_blurred", preload=("deblur_cli.forward",))
@psf_options
@click.option("--noise", type=float, default=0.0, show_default=True, metavar="SIGMA",
              help="Standard deviation of added Gaussian noise, as a fraction of full range (e.g. 0.01).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed of the noise. Each image's noise comes from this seed and its path relative to the "
                   "directory or glob it came from (a file's own name), so batches, shards and reruns give "
                   "identical files. [default: a random seed, shown with -v]")
def command(motion, defocus, gaussian, psf_file, psf_center, noise, seed, **_):
    """Blur images with a PSF and add noise (the forward model).

    Made as a camera makes it: the image is extended by mirror reflection, convolved
    with the PSF, and cropped back, so nothing wraps around the borders; then white
    Gaussian noise of standard deviation SIGMA is added. The output is clipped to the
    output's range.

    \b
    Example:
      deblur blur sharp.png -o blurred.png --motion 15,30 --noise 0.002 --seed 1
    """
    import secrets

    from ..forward import check_noise_sigma
    from ..errors import ParameterError
    from .psf import make_psf

    chosen = make_psf(motion, defocus, gaussian, psf_file, psf_center)
    if chosen is None:
        raise ParameterError(f"give the PSF to blur with: {PSF_OPTIONS}")
    check_noise_sigma(noise, name="--noise")
    if seed is None and noise > 0:
        seed = secrets.randbelow(2**32)
    kernel, psf_info = chosen
    return Task(process, {"psf": kernel, "psf_info": psf_info, "noise": noise, "seed": seed}, pass_relpath=True)
