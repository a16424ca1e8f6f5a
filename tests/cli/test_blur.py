"""``deblur blur``: the forward model through the CLI; deterministic noise; bad input."""

import hashlib
import shutil

import cv2
import numpy as np
import pytest
import scipy.ndimage

from deblur_cli.forward import blur
from deblur_cli.psf import defocus, motion

from .expect import assert_one_error


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)


def test_noise_free_blur_is_the_reflected_convolution(run, tmp_path, rgb_png):
    out = tmp_path / "b.png"
    result = run("blur", rgb_png, "-o", out, "--motion", "9,30")
    assert result.exit_code == 0, result.stderr
    source = read_rgb(rgb_png).astype(np.float64) / 255
    kernel = motion(9, 30).astype(np.float64)
    expected = np.stack([scipy.ndimage.convolve(source[..., c], kernel, mode="reflect") for c in range(3)], axis=2)
    written = read_rgb(out).astype(np.float64)
    assert np.abs(written - np.rint(expected * 255)).max() <= 1


@pytest.fixture
def folder(tmp_path, rgb_png):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.png", "b.png", "c.png", "d.png"):
        shutil.copy(rgb_png, inputs / name)
    return inputs


def _blur_dir(run, inputs, out_dir, *extra):
    result = run("blur", inputs, "--out-dir", out_dir, "--defocus", "2", "--noise", "0.02", "--seed", "5",
                 "--jobs", "1", "--quiet", *extra)
    assert result.exit_code == 0, result.stderr
    return {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())}


def test_noise_depends_on_seed_and_file_name_only(run, tmp_path, folder):
    whole = _blur_dir(run, folder, tmp_path / "whole")
    again = _blur_dir(run, folder, tmp_path / "again")
    shards = {**_blur_dir(run, folder, tmp_path / "s1", "--shard", "1/2"),
              **_blur_dir(run, folder, tmp_path / "s2", "--shard", "2/2")}
    assert whole == again == shards and len(whole) == 4
    # same pixels in, different names: different noise
    assert len(set(whole.values())) == 4
    other_seed = run("blur", folder / "a.png", "-o", tmp_path / "x.png", "--defocus", "2", "--noise", "0.02", "--seed", "6")
    assert other_seed.exit_code == 0
    assert (tmp_path / "x.png").read_bytes() != whole["a_blurred.png"]


def expected_blur(source, relpath, seed=5):
    """The documented rule: noise seeded by the first 8 bytes of SHA-256 of "seed:relpath"."""
    image_seed = int.from_bytes(hashlib.sha256(f"{seed}:{relpath}".encode()).digest()[:8], "little")
    pixels = read_rgb(source).astype(np.float32) / 255
    noisy = blur(pixels, defocus(2), noise_sigma=0.02, seed=image_seed)
    return np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8)


def test_noise_follows_the_path_relative_to_the_batch_root(run, tmp_path, rgb_png):
    tree = tmp_path / "tree"
    for sub in ("a", "b"):
        (tree / sub).mkdir(parents=True)
        shutil.copy(rgb_png, tree / sub / "x.png")

    def blur_tree(inputs, out_dir, *extra):
        result = run("blur", *inputs, "--out-dir", out_dir, "--defocus", "2", "--noise", "0.02", "--seed", "5",
                     "--quiet", "--jobs", "1", *extra)
        assert result.exit_code == 0, result.stderr
        return {p.relative_to(out_dir).as_posix(): p.read_bytes() for p in sorted(out_dir.rglob("*.png"))}

    whole = blur_tree([tree], tmp_path / "whole", "--recursive")
    assert sorted(whole) == ["a/x_blurred.png", "b/x_blurred.png"]
    assert whole["a/x_blurred.png"] != whole["b/x_blurred.png"]  # same pixels and base name, other path
    for relpath in ("a/x.png", "b/x.png"):
        written = read_rgb(tmp_path / "whole" / relpath.replace(".png", "_blurred.png"))
        np.testing.assert_array_equal(written, expected_blur(rgb_png, relpath))
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(tree, moved)
    assert blur_tree([moved], tmp_path / "moved", "--recursive") == whole
    shards = {**blur_tree([tree], tmp_path / "s1", "--recursive", "--shard", "1/2"),
              **blur_tree([tree], tmp_path / "s2", "--recursive", "--shard", "2/2")}
    assert shards == whole
    assert blur_tree([str(tree / "*" / "x.png")], tmp_path / "glob") == whole
    # a file given by name keeps the seed of its base name
    single = tmp_path / "single.png"
    result = run("blur", tree / "b" / "x.png", "-o", single, "--defocus", "2", "--noise", "0.02", "--seed", "5")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(read_rgb(single), expected_blur(rgb_png, "x.png"))


def test_noise_level_and_verbose_parameters(run, tmp_path):
    flat = tmp_path / "flat.png"
    cv2.imwrite(str(flat), np.full((128, 128), 128, np.uint8))
    out = tmp_path / "noisy.png"
    result = run("blur", flat, "-o", out, "--gaussian", "1", "--noise", "0.02", "--seed", "1", "-v")
    assert result.exit_code == 0
    assert "psf.kind=gaussian" in result.stderr and "noise=0.02" in result.stderr and "seed=1" in result.stderr
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED).astype(np.float64) / 255
    assert abs(written.std() - 0.02) < 0.002


@pytest.mark.parametrize(
    "args, code, fragment",
    [(["--motion", "9,30", "--defocus", "2"], 2, "give one PSF"),
     ([], 2, "--motion L,A"),
     (["--defocus", "-1"], 2, "radius must be > 0"),
     (["--motion", "0,10"], 2, "length must be >= 1"),
     (["--gaussian", "1", "--noise", "-0.1"], 2, "--noise must be a number from 0 to 1e6"),
     (["--gaussian", "1", "--noise", "1e300"], 2, "--noise must be a number from 0 to 1e6"),
     (["--motion", "1e9,0"], 2, "PSFs are limited to 4097"),
     (["--motion", "101,0"], 3, "larger than the image")],
)
def test_bad_input_one_line_no_output(run, tmp_path, rgb_png, args, code, fragment):
    out = tmp_path / "b.png"
    assert_one_error(run("blur", rgb_png, "-o", out, *args), code, fragment)
    assert not out.exists()
