"""The ``deblur`` command group: lazy subcommands and the mapping of errors to exit codes.

Subcommand modules are imported only when their command runs, and they import the
numeric libraries inside the command body, so ``deblur --help`` starts fast.
"""

import contextlib
import importlib
import importlib.util
import os
import signal
import sys
import threading
import traceback
import warnings

import click

from .. import __version__
from ..errors import DeblurError

__all__ = ["cli", "main"]

# name -> (module under deblur_cli.cli, one-line summary shown by --help)
COMMANDS = {
    "deconv": ("deconv", "Deblur images by Wiener deconvolution (given or estimated PSF)."),
    "estimate": ("estimate", "Estimate the blur (motion, defocus, Gaussian) and noise of images."),
    "blur": ("blur", "Blur images with a PSF and add noise (the forward model)."),
    "psf": ("psf", "Write a motion, defocus or Gaussian PSF to a file."),
    "upsample": ("upsample", "Enlarge images: bilinear or transposed convolution."),
    "downsample": ("downsample", "Shrink images: area, max-pooling or bilinear."),
    "compare": ("compare", "PSNR/SSIM of images against references; gate CI on them."),
    "convert": ("convert", "Convert an image's format or bit depth."),
}

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell tool whose reader has gone ends: quietly
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process ended by it


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the command stops as on Ctrl-C (workers ended, partial files removed)."""


def _raise_terminated(signum, frame):
    raise _Terminated


@contextlib.contextmanager
def _terminate_as_interrupt():
    """Within the block, SIGTERM (``kill``, a job scheduler's time limit) raises :class:`_Terminated`."""
    if threading.current_thread() is not threading.main_thread():  # only there can Python handle signals
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# Click >= 8.2 raises this for a group named without a command (its help, exit 2).
_HELP_INSTEAD = getattr(click.exceptions, "NoArgsIsHelpError", ())


class DeblurGroup(click.Group):
    """A group that loads subcommands on demand and turns errors into exit codes.

    Every error of a subcommand, usage errors included, is one line on stderr:
    ``deblur: error: ...``.
    """

    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._available(name)]

    @staticmethod
    def _available(name):
        return importlib.util.find_spec(f"{__name__}.{COMMANDS[name][0]}") is not None

    def get_command(self, ctx, name):
        if name not in COMMANDS or not self._available(name):
            return None
        module = importlib.import_module(f"{__name__}.{COMMANDS[name][0]}")
        return getattr(module, "command")

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:  # the group's own options: `deblur --nosuch`
            if isinstance(e, _HELP_INSTEAD):
                raise
            _usage_error(e, info_name)
            raise click.exceptions.Exit(e.exit_code) from None

    def invoke(self, ctx):
        debug = ctx.params.get("debug", False)
        # A file name that is not UTF-8 (lone surrogates in Python) prints as its own bytes, as ls prints it.
        with contextlib.suppress(AttributeError, ValueError):
            sys.stdout.reconfigure(errors="surrogateescape")
        # Pillow warns of metadata it skips (a damaged EXIF block): the pixels are read all the same.
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
        try:
            with _terminate_as_interrupt():
                return super().invoke(ctx)
        except DeblurError as e:
            if debug:
                traceback.print_exc()
            click.echo(f"deblur: error: {e}", err=True)
            ctx.exit(e.exit_code)
        except BrokenPipeError:  # the reader of printed results has gone (`deblur estimate dir/ | head`)
            sys.stdout = open(os.devnull, "w")
            ctx.exit(EXIT_BROKEN_PIPE)
        except _Terminated:
            click.echo("deblur: terminated", err=True)
            ctx.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            click.echo("deblur: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except MemoryError:
            if debug:
                traceback.print_exc()
            click.echo("deblur: error: not enough memory; process a smaller image", err=True)
            ctx.exit(3)
        except click.UsageError as e:
            if isinstance(e, _HELP_INSTEAD):  # a group named without its command: Click shows its help
                raise
            # Click's parser leaves the context out of some errors ("Option '-o' requires an argument").
            path = ctx.command_path + (f" {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "")
            _usage_error(e, e.ctx.command_path if e.ctx is not None else path)
            ctx.exit(e.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:
            if debug:
                raise
            click.echo(
                f"deblur: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
                err=True,
            )
            ctx.exit(3)


def _usage_error(error, command_path):
    """Say a usage error in one line on stderr, pointing to the help of ``command_path``."""
    message = error.format_message().rstrip(".")
    joint = " See" if message.endswith("?") else "; see"  # "... Did you mean '--nsr'? See ..."
    click.echo(f"deblur: error: {message}{joint} '{command_path} --help'", err=True)


@click.group(cls=DeblurGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="deblur")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug):
    """Deblur, upsample and compare images.

    Exit codes: 0 success, 1 a check failed (or some files of a batch failed),
    2 usage error, 3 input or output error, 130 interrupted, 141 the reader of
    the printed results went away, 143 terminated (SIGTERM).
    """


def main(argv=None):
    """Console entry point of ``deblur``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments; by default ``sys.argv[1:]``.
    """
    return cli.main(args=argv, prog_name="deblur")

