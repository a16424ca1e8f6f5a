"""Image I/O: lossless round trips, dtype handling, atomic writes, guards."""

import io
import os
import signal
import subprocess
import sys

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from deblur_cli.errors import InputError, OutputError, ParameterError
from deblur_cli.images import (
    Image,
    _encode_png_grey_alpha16,
    atomic_write_bytes,
    decode_image,
    encode_image,
    read_image,
    remove_partial_writes,
    write_image,
)

LAYOUTS = {"grey": (), "grey+alpha": (2,), "rgb": (3,), "rgba": (4,)}


def random_array(dtype, layout, shape=(13, 17), seed=0):
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    array = rng.integers(0, top + 1, size=shape + LAYOUTS[layout], dtype=np.int64).astype(dtype)
    array.flat[0], array.flat[1] = 0, top  # both ends of the range
    return array


def encode_independently(array, extension):
    """Encode with a library other than the one under test, where one can."""
    if extension == ".tif":
        buffer = io.BytesIO()
        extra = {"extrasamples": ["unassalpha"]} if array.ndim == 3 and array.shape[2] in (2, 4) else {}
        photometric = "rgb" if array.ndim == 3 and array.shape[2] >= 3 else "minisblack"
        tifffile.imwrite(buffer, array, photometric=photometric, **extra)
        return buffer.getvalue()
    if array.ndim == 3 and array.shape[2] == 2:
        if array.dtype == np.uint16:
            return _encode_png_grey_alpha16(array)  # nothing else here writes 16-bit grey+alpha
        buffer = io.BytesIO()
        PILImage.fromarray(array).save(buffer, format="PNG")
        return buffer.getvalue()
    if array.ndim == 3:
        array = array[..., ::-1] if array.shape[2] == 3 else array[..., [2, 1, 0, 3]]
    ok, data = cv2.imencode(".png", array)
    assert ok
    return data.tobytes()


def decode_independently(data, extension):
    if extension == ".tif":
        return tifffile.imread(io.BytesIO(data))
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., [2, 1, 0, 3]]
    elif array.ndim == 3:
        array = array[..., ::-1]
    return array


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_round_trip_gives_identical_pixels(tmp_path, dtype, layout, extension):
    array = random_array(dtype, layout)
    source = tmp_path / f"in{extension}"
    source.write_bytes(encode_independently(array, extension))
    image = read_image(source)
    assert image.source_dtype == dtype
    assert image.pixels.dtype == np.float32
    assert (image.alpha is not None) == (layout in ("grey+alpha", "rgba"))
    target = tmp_path / f"out{extension}"
    write_image(target, image)
    back = decode_independently(target.read_bytes(), extension)
    if layout == "grey+alpha" and back.ndim == 3 and back.shape[2] == 4:  # OpenCV expands GA to BGRA
        back = back[..., [0, 3]]
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_internal_form_is_scaled_by_dtype_maximum(tmp_path, dtype):
    array = random_array(dtype, "rgba")
    path = tmp_path / "x.tif"
    path.write_bytes(encode_independently(array, ".tif"))
    image = read_image(path)
    top = np.iinfo(dtype).max
    np.testing.assert_allclose(image.pixels, array[..., :3] / top, atol=1e-7)
    np.testing.assert_allclose(image.alpha, array[..., 3] / top, atol=1e-7)
    assert image.channels == 3 and image.bit_depth == (8 if dtype == np.uint8 else 16)


def test_jpeg_round_trip_within_codec_loss(tmp_path):
    rng = np.random.default_rng(1)
    smooth = cv2.GaussianBlur(rng.random((64, 64, 3)).astype(np.float32), (0, 0), 3)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    write_image(tmp_path / "x.jpg", Image(smooth))
    back = read_image(tmp_path / "x.jpg")
    assert np.abs(back.pixels - smooth).mean() < 2 / 255


def test_sixteen_bit_to_eight_bit_rounds_to_nearest(tmp_path):
    values = np.array([[0, 128, 129, 257, 32767, 65535]], np.uint16)
    path = tmp_path / "x.png"
    path.write_bytes(encode_independently(values, ".png"))
    write_image(tmp_path / "y.png", read_image(path), bit_depth=8)
    back = decode_independently((tmp_path / "y.png").read_bytes(), ".png")
    np.testing.assert_array_equal(back, np.rint(values / 65535 * 255).astype(np.uint8))


def test_eight_bit_only_formats_reduce_sixteen_bit_unless_asked(tmp_path):
    image = Image(np.full((4, 4), 0.5, np.float32), source_dtype=np.dtype(np.uint16))
    write_image(tmp_path / "x.bmp", image)
    assert iio.imread(tmp_path / "x.bmp").dtype == np.uint8
    with pytest.raises(ParameterError, match="8-bit"):
        write_image(tmp_path / "y.bmp", image, bit_depth=16)


def test_float_tiff_is_kept_as_float_and_unclipped(tmp_path):
    array = np.array([[-0.25, 0.5], [1.5, 3.0]], np.float32)
    tifffile.imwrite(tmp_path / "f.tif", array)
    image = read_image(tmp_path / "f.tif")
    assert image.bit_depth == "float"
    write_image(tmp_path / "g.tif", image)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "g.tif"), array)


def test_integer_output_is_clipped(tmp_path):
    image = Image(np.array([[-0.5, 0.25, 1.5]], np.float32))
    write_image(tmp_path / "c.png", image)
    np.testing.assert_array_equal(iio.imread(tmp_path / "c.png"), [[0, 64, 255]])


def test_palette_image_becomes_rgb(tmp_path):
    palette_image = PILImage.new("P", (5, 3))
    palette_image.putpalette([10, 20, 30] + [200, 100, 50] * 255)
    palette_image.putpixel((1, 1), 1)
    palette_image.save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    assert image.pixels.shape == (3, 5, 3)
    np.testing.assert_allclose(image.pixels[0, 0] * 255, [10, 20, 30], atol=1e-4)
    np.testing.assert_allclose(image.pixels[1, 1] * 255, [200, 100, 50], atol=1e-4)


@pytest.mark.parametrize("extension", [".bmp", ".webp"])
def test_lossless_eight_bit_formats_round_trip(tmp_path, extension):
    array = random_array(np.uint8, "rgb")
    image = read_image_from_array(tmp_path, array)
    write_image(tmp_path / f"x{extension}", image)
    np.testing.assert_array_equal(iio.imread(tmp_path / f"x{extension}"), array)


def read_image_from_array(tmp_path, array):
    path = tmp_path / "source.png"
    path.write_bytes(encode_independently(array, ".png"))
    return read_image(path)


def test_format_is_recognised_from_content_not_name(tmp_path):
    array = random_array(np.uint8, "rgb")
    path = tmp_path / "actually_tiff.png"
    path.write_bytes(encode_independently(array, ".tif"))
    np.testing.assert_array_equal(np.rint(read_image(path).pixels * 255), array)


def test_pixel_limit_refuses_large_images_before_decoding():
    data = encode_independently(random_array(np.uint8, "grey", shape=(40, 50)), ".png")
    with pytest.raises(InputError, match="--max-pixels"):
        decode_image(data, "big.png", max_pixels=1999)
    assert decode_image(data, "big.png", max_pixels=2000).shape == (40, 50)


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"hello, world\n", "not a supported image"), (b"\x89PNG\r\n\x1a\n\x00", "IHDR")],
)
def test_bad_content_raises_input_error(content, message):
    with pytest.raises(InputError, match=message):
        decode_image(content, "bad.png")


def test_truncated_png_raises_input_error():
    data = encode_independently(random_array(np.uint8, "rgb", shape=(64, 64)), ".png")
    with pytest.raises(InputError, match="damaged or truncated"):
        decode_image(data[: len(data) // 2], "cut.png")


def test_atomic_write_refuses_existing_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(OutputError, match="--overwrite"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    atomic_write_bytes(target, b"new", overwrite=True)
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_written_file_gets_ordinary_permissions(tmp_path):
    atomic_write_bytes(tmp_path / "x.bin", b"data")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "x.bin").stat().st_mode & 0o777 == 0o666 & ~mask


def test_encode_refuses_float_png_when_asked():
    with pytest.raises(ParameterError, match="PNG holds no float"):
        encode_image(Image(np.zeros((2, 2), np.float32)), ".png", bit_depth="float")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_lzw_tiff_from_opencv_is_read(tmp_path, dtype):
    array = random_array(dtype, "rgb")
    ok, data = cv2.imencode(".tif", array[..., ::-1])  # OpenCV writes LZW-compressed TIFF
    assert ok
    image = decode_image(data.tobytes(), "lzw.tif")
    np.testing.assert_array_equal(np.rint(image.pixels * np.iinfo(dtype).max).astype(dtype), array)


def test_partial_write_of_a_killed_process_is_removed(tmp_path):
    # A writer is held at its fsync and killed there, as a worker is when a batch stops:
    # it cannot clean up, so its temporary file stays until remove_partial_writes.
    script = (
        "import os, signal, sys\n"
        "from deblur_cli import images\n"
        "def held(fd):\n"
        "    print('writing', flush=True)\n"
        "    signal.pause()\n"
        "os.fsync = held\n"
        "images.atomic_write_bytes(sys.argv[1], b'x' * 1000)\n"
    )
    target = tmp_path / "out.png"
    neighbour = tmp_path / ".other.png.abc.part"
    neighbour.write_bytes(b"not ours")
    process = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "writing\n"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    left = [p.name for p in tmp_path.iterdir() if p != neighbour]
    assert len(left) == 1 and left[0].startswith(".out.png.") and left[0].endswith(".part")
    remove_partial_writes(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [neighbour.name]
