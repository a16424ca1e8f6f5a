"""``deblur convert``: change images' format or bit depth, losslessly where possible."""

from .runner import Task, image_command


def process(image):
    """Return the image unchanged: the runner writes it in the requested form.

    The record names the input's bit depth; the file written has the one that
    ``--bit-depth`` and the format give.

    Parameters
    ----------
    image : Image

    Returns
    -------
    (Image, dict)
        The image, and the record's parameters: ``size`` and ``input_bit_depth``.
    """
    return image, {"size": f"{image.shape[1]}x{image.shape[0]}", "input_bit_depth": image.bit_depth}


@image_command(writes_images=True, default_suffix="")
def command(**_):
    """Convert images to another format or bit depth.

    Pixel values are kept exactly when the target holds them (PNG or TIFF at the same
    bit depth); JPEG, BMP and WebP hold 8 bits only. With --out-dir and no --suffix,
    outputs keep their names: choose a format or an output directory apart from the
    inputs.
    """
    return Task(process)
