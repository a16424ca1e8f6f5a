"""``deblur convert``: change an image's format or bit depth, losslessly where possible."""

import click

from .options import max_pixels_option, output_options


@click.command(short_help="Convert an image's format or bit depth.")
@click.argument("input_path", metavar="IN")
@click.option("-o", "--output", "output", required=True, help="Output file, or '-' for stdout.")
@output_options
@max_pixels_option
def command(input_path, output, fmt, bit_depth, overwrite, max_pixels):
    """Read IN and write it to OUTPUT in another format or bit depth.

    Pixel values are kept exactly when the target holds them (PNG/TIFF at the same
    bit depth); JPEG, BMP and WebP hold 8 bits only.
    """
    from ..images import check_output_path, read_image, write_image

    check_output_path(output, [input_path], overwrite=overwrite)
    image = read_image(input_path, max_pixels=max_pixels)
    write_image(output, image, bit_depth=bit_depth, fmt=fmt, overwrite=overwrite)
