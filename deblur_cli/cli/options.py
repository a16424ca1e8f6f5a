"""Reusable Click options and parameter types shared by the subcommands."""

import click

from ..formats import DEFAULT_MAX_PIXELS, FORMATS

__all__ = [
    "output_options",
    "overwrite_option",
    "max_pixels_option",
    "verbose_option",
    "BitDepth",
    "Number",
    "ReadFile",
]


class BitDepth(click.ParamType):
    """``8``, ``16`` or ``float``."""

    name = "8|16|float"

    def convert(self, value, param, ctx):
        if value in (8, 16, "float"):
            return value
        text = str(value).strip().lower()
        if text in ("8", "16"):
            return int(text)
        if text in ("float", "f32", "32f"):
            return "float"
        self.fail(f"{value!r} is not a bit depth; use 8, 16 or float", param, ctx)


class Number(click.ParamType):
    """A number within its option's domain; anything else is a one-line usage error (exit 2).

    Parameters
    ----------
    rule : str
        The domain in words ("a finite number > 0"), quoted by the error.
    accepts : callable
        Whether a parsed number is in the domain (False for NaN unless said otherwise).
    parse : type, optional
        ``float`` or ``int``.
    """

    def __init__(self, rule, accepts, parse=float):
        self.rule, self.accepts, self.parse = rule, accepts, parse
        self.name = "integer" if parse is int else "float"

    def convert(self, value, param, ctx):
        from ..errors import ParameterError

        try:
            number = self.parse(value)
        except (TypeError, ValueError):
            number = None
        if number is None or not self.accepts(number):
            raise ParameterError(f"{max(param.opts, key=len)} must be {self.rule}, got {value}")
        return number + 0  # -0.0 is 0


class ReadFile(click.ParamType):
    """A file a command reads besides its inputs (a PSF, a kernel), passed on as given.

    The image commands refuse, before any work, an output that would replace a file
    named by an option of this type, as they refuse one that would replace an input.
    A value that names no existing file (a keyword such as ``auto``) protects nothing.
    """

    name = "file"

    def convert(self, value, param, ctx):
        if value == "":
            self.fail("an empty file name", param, ctx)
        return value


def overwrite_option(command):
    """``--overwrite``: replace existing outputs, never an input."""
    return click.option(
        "--overwrite", is_flag=True, help="Replace existing outputs (never an input)."
    )(command)


def output_options(command):
    """``--overwrite``, ``--bit-depth`` and ``--format`` for commands that write images."""
    command = click.option(
        "--format",
        "fmt",
        type=click.Choice(sorted(FORMATS), case_sensitive=False),
        default=None,
        help="Output format [default: from -o's extension, else the input's; PNG for '-'].",
    )(command)
    command = click.option(
        "--bit-depth",
        type=BitDepth(),
        default=None,
        help="Output sample type: 8, 16 or float (TIFF) [default: the input's].",
    )(command)
    return overwrite_option(command)


def max_pixels_option(command):
    """``--max-pixels``: the decompression-bomb guard."""
    return click.option(
        "--max-pixels",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_PIXELS,
        show_default=True,
        help="Refuse images with more pixels than this.",
    )(command)


def verbose_option(command):
    """``-v/--verbose``: say on stderr what was done and with which parameters."""
    return click.option(
        "-v", "--verbose", is_flag=True, help="Print the parameters used for each image on stderr."
    )(command)
