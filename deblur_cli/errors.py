"""Exception hierarchy; every class carries the process exit code the CLI uses for it.

Exit codes (README, DESIGN.md section 5): 0 success, 1 a check failed, 2 usage
error, 3 input or output error, 130 interrupted, 141 the reader of printed results
went away.
"""

__all__ = [
    "DeblurError",
    "ParameterError",
    "InputError",
    "OutputError",
    "CheckFailed",
    "printable",
]


class DeblurError(Exception):
    """Base class of every error the tool reports as one line on stderr.

    Parameters
    ----------
    message : str
        What is wrong and, where there is one, how to fix it.
    path : str, optional
        The file concerned; the CLI puts it in front of the message.
    """

    exit_code = 3

    def __init__(self, message, path=None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self):
        return f"{printable(self.path)}: {self.message}" if self.path else self.message


def printable(path):
    """A file name with its control characters (a newline, say) escaped, so that a line naming it stays one line.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))


class ParameterError(DeblurError, ValueError):
    """A parameter value is out of its domain (negative radius, NSR <= 0, scale 0 ...)."""

    exit_code = 2


class InputError(DeblurError):
    """An input image or PSF is missing, unreadable, invalid, or of the wrong shape."""

    exit_code = 3


class OutputError(DeblurError):
    """An output cannot be written (unwritable, exists without --overwrite, is the input)."""

    exit_code = 3


class CheckFailed(DeblurError):
    """A quality check failed (compare below a threshold; some files of a batch failed)."""

    exit_code = 1
