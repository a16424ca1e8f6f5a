"""Shared fixtures: a CLI runner and small image files written by an independent encoder."""

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from deblur_cli.cli import cli


@pytest.fixture
def run():
    """Invoke ``deblur ARGS...`` in-process; returns Click's Result (stdout and stderr apart)."""
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def rgb_png(tmp_path):
    """A 48x64 8-bit RGB PNG of smooth random content; returns its path."""
    rng = np.random.default_rng(7)
    array = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3)).astype(np.uint8), (0, 0), 2)
    path = tmp_path / "rgb.png"
    cv2.imwrite(str(path), array)
    return path
