"""``deblur upsample``: enlarge images by bilinear interpolation or transposed convolution."""

import click

from .options import ReadFile
from .runner import Task, image_command

_TRANSPOSED_ONLY = ("kernel", "stride", "padding", "output_padding", "dilation", "normalize_border", "normalize_kernel")
_BUILT_IN = ("bilinear", "nearest")


def _size_text(size):
    return f"{size[1]}x{size[0]}"


def process(image, *, method, size=None, scale=None, align_corners=False, kernel=None, kernel_name=None,
            kernel_size=None, factor=None, stride=None, padding=None, output_padding=None, dilation=None,
            normalize_border=False, max_pixels=None):
    """Enlarge one image (colour and alpha alike); the output size is checked before any work.

    ``kernel=None`` stands for the built-in ``kernel_name`` kernel of ``factor``, of
    ``kernel_size``: it is made only once this image's output is known to fit ``max_pixels``.

    Parameters
    ----------
    image : Image
    method : {"bilinear", "transposed"}
    size, scale, align_corners
        Bilinear: the output (width, height), or the factor; the corner convention.
    kernel, kernel_name, kernel_size, factor, stride, padding, output_padding, dilation, normalize_border
        Transposed convolution, as :func:`..resample.conv_transpose2d` takes them.
    max_pixels : int, optional
        Largest output allowed.

    Returns
    -------
    (Image, dict)
        The larger image, and the record's parameters: sizes and the method's own.
    """
    import numpy as np

    from .. import resample

    if method == "bilinear":
        out_size = size if size is not None else resample.scaled_size(image.shape, scale)
        resample.check_pixel_limit(out_size, max_pixels)

        def apply(array):
            return resample.resize_bilinear(array, out_size, align_corners=align_corners, max_pixels=max_pixels)

        info = {"method": "bilinear", "scale": scale, "align_corners": align_corners}
    else:
        out_size = resample.conv_transpose2d_size(
            image.shape, kernel_size, stride, padding, output_padding, dilation
        )
        resample.check_pixel_limit(out_size, max_pixels)
        if kernel is None:
            kernel = _kernel(kernel_name, factor)

        def apply(array):
            return resample.conv_transpose2d(
                array, kernel, stride, padding, output_padding, dilation, normalize_border=normalize_border,
                max_pixels=max_pixels,
            )

        info = {
            "method": "transposed",
            "scale": factor,
            "kernel": kernel_name,
            "kernel_size": _size_text(kernel_size),
            "stride": stride,
            "padding": padding,
            "output_padding": output_padding,
            "dilation": dilation,
            "normalize_border": normalize_border,
        }
    pixels = apply(image.pixels)
    alpha = None if image.alpha is None else np.clip(apply(image.alpha), 0.0, 1.0)
    info = {"input_size": _size_text(image.shape), "output_size": _size_text(out_size), **info}
    return image.with_pixels(pixels, alpha), info


def _parse_size(text):
    from ..errors import ParameterError

    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise ParameterError(f"--size must be WIDTHxHEIGHT with both > 0 (e.g. 1920x1080), got {text!r}")
    return int(height), int(width)


def _integer_factor(scale):
    from ..errors import ParameterError

    if scale != int(scale):
        raise ParameterError(
            f"--method transposed needs an integer --scale (the stride), got {scale:g}; "
            "use --method bilinear for other factors"
        )
    return int(scale)


def _built_in_size(name, factor):
    """(height, width) of :func:`_kernel`'s built-in kernel, without making it."""
    side = 2 * factor - factor % 2 if name == "bilinear" else factor
    return side, side


def _kernel(name, factor):
    from .. import resample

    if name == "bilinear":
        return resample.bilinear_kernel(factor)
    if name == "nearest":
        return resample.nearest_kernel(factor)
    return resample.load_kernel(name)


def _one_or_pair(pair):
    return pair[0] if pair[0] == pair[1] else list(pair)


def _transposed(scale, kernel_name, stride, padding, output_padding, dilation, normalize_kernel, max_pixels):
    """Kernel, its size, factor and PyTorch parameters for --method transposed, checked once for all images.

    No array is made here that the parameters alone make too large: a built-in kernel
    larger than ``max_pixels`` is refused unmade. At its own stride (the factor) and
    dilation 1 a built-in kernel overlaps evenly and needs no look at its weights, so
    it is returned as None and made per image, once the image's output fits the limit.
    """
    from .. import resample
    from ..errors import InputError, ParameterError

    if scale is None and stride is None:
        raise ParameterError("give --scale (the upsampling factor) or --stride")
    factor = stride if scale is None else _integer_factor(scale)
    stride = factor if stride is None else stride
    dilation_pair = resample.transposed_parameters(stride, padding or 0, output_padding or 0, dilation)[3]
    if kernel_name in _BUILT_IN:
        size = _built_in_size(kernel_name, factor)
        if max_pixels is not None and size[0] * size[1] > max_pixels:
            raise ParameterError(
                f"the {kernel_name} kernel of factor {factor} would have {_size_text(size)} = {size[0] * size[1]:,} "
                f"weights, more than the limit of {max_pixels:,}; lower the scale or raise --max-pixels"
            )
        if (stride, dilation) == (factor, 1) and not normalize_kernel:
            padding, output_padding = _default_padding(size, stride, dilation, padding, output_padding)
            return None, size, factor, stride, padding, output_padding
    kernel = _kernel(kernel_name, factor)
    _check_dilated_size(kernel.shape, dilation_pair, max_pixels)
    if not kernel.any():
        raise InputError("the kernel is all zero: every output would be black; give a kernel with weights", kernel_name)
    if normalize_kernel:
        total = float(kernel.sum(dtype="float64"))
        if total == 0:
            raise ParameterError(f"kernel {kernel_name} sums to 0 and cannot be normalised; drop --normalize-kernel")
        kernel = (kernel * (stride * stride / total)).astype("float32")
    padding, output_padding = _default_padding(kernel.shape, stride, dilation, padding, output_padding)
    return kernel, kernel.shape, factor, stride, padding, output_padding


def _check_dilated_size(kernel_size, dilation, max_pixels):
    """Refuse a dilation (a pair) that spreads the kernel over more pixels than the image limit."""
    from ..errors import ParameterError

    dy, dx = dilation
    span = (dy * (kernel_size[0] - 1) + 1, dx * (kernel_size[1] - 1) + 1)
    if max_pixels is not None and span[0] * span[1] > max_pixels:
        raise ParameterError(
            f"--dilation {_one_or_pair((dy, dx))} spreads the {_size_text(kernel_size)} kernel over "
            f"{_size_text(span)} = {span[0] * span[1]:,} pixels, more than the limit of {max_pixels:,}; "
            "lower the dilation or raise --max-pixels"
        )


def _default_padding(kernel_size, stride, dilation, padding, output_padding):
    """The padding given, else the one that makes the output exactly stride x the input."""
    from .. import resample

    if padding is None and output_padding is None:
        padding, output_padding = map(_one_or_pair, resample.same_padding(kernel_size, stride, dilation))
    return padding or 0, output_padding or 0


@image_command(writes_images=True, default_suffix="_up", preload=("deblur_cli.resample",))
@click.option("--scale", type=float, default=None, help="Upsampling factor (bilinear: any number > 0; transposed: an integer).")
@click.option("--size", "size_text", default=None, metavar="WxH", help="Output size in pixels (bilinear only), e.g. 1920x1080.")
@click.option("--method", type=click.Choice(["bilinear", "transposed"]), default="bilinear", show_default=True,
              help="Bilinear interpolation or transposed convolution with a fixed kernel.")
@click.option("--align-corners", is_flag=True, help="Bilinear: make the corner pixels coincide instead of half-pixel centres.")
@click.option("--kernel", "kernel_name", type=ReadFile(), default=None, metavar="bilinear|nearest|FILE",
              help="Transposed: FCN bilinear kernel, nearest (ones), or a .npy/.csv/.txt/greyscale image file. [default: bilinear]")
@click.option("--stride", type=int, default=None, help="Transposed: stride [default: --scale].")
@click.option("--padding", type=int, default=None, help="Transposed: rows/columns cropped on every side [default: 0 with --output-padding, "
                   "else output = stride x input].")
@click.option("--output-padding", type=int, default=None, help="Transposed: rows/columns added at the bottom/right [default: 0 with --padding, else output = stride x input].")
@click.option("--dilation", type=int, default=None, help="Transposed: spacing of the kernel taps [default: 1].")
@click.option("--normalize-border", is_flag=True,
              help="Transposed: divide by the response to an all-ones image, so flat areas stay flat up to the borders.")
@click.option("--normalize-kernel", is_flag=True, help="Transposed: scale a kernel to sum to stride^2 (flat areas keep their level).")
def command(scale, size_text, method, align_corners, kernel_name, stride, padding, output_padding, dilation,
            normalize_border, normalize_kernel, max_pixels, quiet, **_):
    """Enlarge images by bilinear interpolation or transposed convolution.

    \b
    Bilinear (default): half-pixel centres with the edge pixel repeated, the same as
    cv2.resize INTER_LINEAR and PyTorch interpolate(align_corners=False); --scale S
    gives round(S x size), --size WxH an exact size; --align-corners makes the corner
    pixels coincide. Scales below 1 shrink without averaging (use `deblur downsample`).

    \b
    Transposed convolution (--method transposed): exactly PyTorch conv_transpose2d,
    one kernel for every channel. --kernel bilinear is FCN's filter (size 2f - f%2,
    stride f, padding ceil((f-1)/2)); nearest repeats pixels; a file is used as given
    (--normalize-kernel scales it to sum to stride^2). By default padding and output
    padding make the output exactly stride x the input (one pixel more for an
    even kernel at stride 1, where PyTorch allows no output padding). A kernel
    whose stride phases carry unequal weight (a 3x3 box at stride 2, say) leaves a
    checkerboard: a warning says so, and --normalize-border evens it out.

    \b
    Alpha is enlarged like the colour channels and clipped to [0, 1]; colour is not
    premultiplied. Outputs larger than --max-pixels are refused before any work, and
    so are built-in kernels with more weights than that.

    \b
    Examples:
      deblur upsample photo.png -o big.png --scale 2
      deblur upsample photo.png -o big.png --method transposed --scale 2 --normalize-border
      deblur upsample frames/ --out-dir up/ --size 3840x2160 --report up.json
    """
    import math

    from .. import resample
    from ..errors import ParameterError

    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise ParameterError(f"--scale must be a finite number > 0, got {scale:g}")
    size = None if size_text is None else _parse_size(size_text)
    if method == "bilinear":
        given = {name: value for name, value in zip(
            _TRANSPOSED_ONLY, (kernel_name, stride, padding, output_padding, dilation, normalize_border, normalize_kernel)
        ) if value is not None and value is not False}
        if given:
            option = "--" + next(iter(given)).replace("_", "-")
            raise ParameterError(f"{option} applies to --method transposed, not bilinear")
        if (scale is None) == (size is None):
            raise ParameterError("give either --scale or --size for bilinear upsampling")
        if size is not None:
            resample.check_pixel_limit(size, max_pixels)
        return Task(process, {"method": "bilinear", "size": size, "scale": scale,
                              "align_corners": align_corners, "max_pixels": max_pixels})
    if size is not None:
        raise ParameterError("--size applies to --method bilinear; a transposed convolution's size follows from --scale/--stride")
    if align_corners:
        raise ParameterError("--align-corners applies to --method bilinear")
    kernel_name = kernel_name or "bilinear"
    dilation = 1 if dilation is None else dilation
    kernel, kernel_size, factor, stride, padding, output_padding = _transposed(
        scale, kernel_name, stride, padding, output_padding, dilation, normalize_kernel, max_pixels
    )
    warning = None
    # A built-in kernel (None) is even.
    if kernel is not None and not normalize_border and resample.uneven_overlap(kernel, stride, dilation):
        warning = (f"kernel {_size_text(kernel.shape)} at stride {stride} overlaps unevenly (its stride phases "
                   "differ in weight): expect checkerboard artefacts; --normalize-border evens them out")
    return Task(process, {"method": "transposed", "kernel": kernel, "kernel_name": kernel_name,
                          "kernel_size": kernel_size, "factor": factor, "stride": stride,
                          "padding": padding, "output_padding": output_padding, "dilation": dilation,
                          "normalize_border": normalize_border, "max_pixels": max_pixels}, warning=warning)
