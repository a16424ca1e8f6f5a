"""Image I/O: lossless round trips, dtype handling, atomic writes, guards."""

import io
import re
import logging
import os
import signal
import struct
import subprocess
import sys
import zlib

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
    check_output_path,
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


@pytest.mark.parametrize("extension, layout", [(".bmp", "rgb"), (".webp", "rgb"), (".webp", "rgba")])
def test_lossless_eight_bit_formats_round_trip(tmp_path, extension, layout):
    array = random_array(np.uint8, layout)
    if layout == "rgba":
        array[::3, ::2, 3] = 0  # colour under fully transparent pixels is kept too
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


def test_atomic_write_says_whether_the_directory_is_missing_or_refuses_files(tmp_path):
    with pytest.raises(OutputError, match="output directory .*missing does not exist; create it first"):
        atomic_write_bytes(tmp_path / "missing" / "x.bin", b"data")
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc, a directory in which no file can be created")
    with pytest.raises(OutputError, match=r"^/proc/self/x.bin: cannot write in /proc/self: .*; choose another"):
        atomic_write_bytes("/proc/self/x.bin", b"data")


def test_written_file_gets_ordinary_permissions(tmp_path):
    atomic_write_bytes(tmp_path / "x.bin", b"data")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "x.bin").stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("pixels, alpha, message", [
    (np.full((2, 3), np.nan, np.float32), None, "image to write holds 6 NaN values"),
    (np.zeros((2, 3, 5), np.float32), None, "image to write must be grey or RGB, got 5 colour channels"),
    (np.zeros((2, 3, 2), np.float32), None, "image to write must be grey or RGB, got 2 colour channels"),
    (np.zeros(3, np.float32), None, "image to write must be a non-empty (H, W) or (H, W, C) array, got shape (3,)"),
    (np.zeros((2, 3), np.float32), np.ones((3, 2), np.float32), "alpha to write must be of shape (2, 3), got (3, 2)"),
    (np.zeros((2, 3), np.float32), np.full((2, 3), np.inf, np.float32), "alpha to write holds 6 infinite values"),
    (np.full((2, 3), 1e39), None, "image to write holds 6 values beyond float32's range"),
])
@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_encode_refuses_what_no_file_holds_as_it_is(pixels, alpha, message, extension, recwarn):
    with pytest.raises(InputError, match=re.escape(message)):
        encode_image(Image(pixels, alpha), extension)
    assert not recwarn.list


def test_jpeg_keeps_colour_at_full_resolution():
    from PIL import JpegImagePlugin

    data = encode_image(Image(random_array(np.uint8, "rgb") / np.float32(255)), ".jpg")
    with PILImage.open(io.BytesIO(data)) as written:
        assert JpegImagePlugin.get_sampling(written) == 0  # 4:4:4


def test_encode_refuses_float_png_when_asked():
    with pytest.raises(ParameterError, match="PNG holds no float"):
        encode_image(Image(np.zeros((2, 2), np.float32)), ".png", bit_depth="float")


@pytest.mark.parametrize("quality", [None, 0, 101, 500, -5, "high", 95.0, True])
@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_encode_and_write_refuse_a_jpeg_quality_outside_1_to_100(tmp_path, quality, extension):
    image = Image(np.zeros((2, 3), np.float32))
    message = re.escape(f"JPEG quality must be an integer from 1 to 100, got {quality!r}")
    with pytest.raises(ParameterError, match=message):
        encode_image(image, extension, quality=quality)
    with pytest.raises(ParameterError, match=message):
        write_image(tmp_path / f"x{extension}", image, quality=quality)
    assert not list(tmp_path.iterdir())


def test_jpeg_quality_takes_any_integer_from_1_to_100():
    rng = np.random.default_rng(0)
    image = Image(rng.random((32, 32, 3), dtype=np.float32))
    sizes = {q: len(encode_image(image, ".jpg", quality=q)) for q in (1, 50, 100)}
    assert sizes[1] < sizes[50] < sizes[100]
    assert encode_image(image, ".jpg", quality=np.int64(50)) == encode_image(image, ".jpg", quality=50)


def test_encode_and_write_refuse_an_array_for_an_image(tmp_path):
    message = "image to write must be an Image .*, got ndarray"
    with pytest.raises(ParameterError, match=message):
        encode_image(np.zeros((2, 3), np.float32), ".png")
    with pytest.raises(ParameterError, match=message):
        write_image(tmp_path / "x.png", np.zeros((2, 3), np.float32))
    assert not list(tmp_path.iterdir())


def pillow_lzw_tiff(array, mode=None):
    buffer = io.BytesIO()
    PILImage.fromarray(array, mode).save(buffer, format="TIFF", compression="tiff_lzw")
    return buffer.getvalue()


@pytest.mark.parametrize("layout", ["grey", "grey+alpha", "rgb", "rgba"])
def test_eight_bit_lzw_tiff_is_read_exactly(layout):
    array = random_array(np.uint8, layout)
    image = decode_image(pillow_lzw_tiff(array, "LA" if layout == "grey+alpha" else None), "lzw.tif")
    planes = image.pixels if image.alpha is None else np.dstack([image.pixels, image.alpha])
    np.testing.assert_array_equal(np.rint(planes * 255).astype(np.uint8), array)


def test_sixteen_bit_and_bilevel_grey_lzw_tiff_are_read_exactly():
    grey = random_array(np.uint16, "grey")
    image = decode_image(pillow_lzw_tiff(grey), "lzw16.tif")
    assert image.source_dtype == np.uint16
    np.testing.assert_array_equal(np.rint(image.pixels * 65535).astype(np.uint16), grey)
    bilevel = random_array(np.uint8, "grey") > 127
    np.testing.assert_array_equal(decode_image(pillow_lzw_tiff(bilevel), "lzw1.tif").pixels, bilevel)


def test_lzw_tiff_with_a_horizontal_predictor_is_read_exactly():
    array = random_array(np.uint8, "rgb")
    ok, data = cv2.imencode(".tif", array[..., ::-1])  # OpenCV writes LZW with predictor 2
    assert ok
    np.testing.assert_array_equal(np.rint(decode_image(data.tobytes(), "lzw.tif").pixels * 255), array)


def test_sixteen_bit_colour_lzw_tiff_is_read_exactly():
    rgb = random_array(np.uint16, "rgb")
    ok, data = cv2.imencode(".tif", rgb[..., ::-1])
    assert ok
    image = decode_image(data.tobytes(), "lzw16.tif")
    assert image.source_dtype == np.uint16
    np.testing.assert_array_equal(np.rint(image.pixels * 65535).astype(np.uint16), rgb)


def tiff_bytes(array, **kwargs):
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_miniswhite_tiff_is_inverted(dtype):
    array = random_array(dtype, "grey")
    image = decode_image(tiff_bytes(array, photometric="miniswhite"), "white.tif")
    top = np.iinfo(dtype).max
    np.testing.assert_array_equal(np.rint(image.pixels * top).astype(dtype), top - array)


def test_bilevel_miniswhite_tiff_is_inverted():
    bits = random_array(np.uint8, "grey") > 127
    image = decode_image(tiff_bytes(bits, photometric="miniswhite"), "white.tif")
    np.testing.assert_array_equal(image.pixels, ~bits)


def test_float_miniswhite_tiff_is_refused():
    data = tiff_bytes(np.zeros((3, 4), np.float32), photometric="miniswhite")
    with pytest.raises(InputError, match="float MINISWHITE .* save it as MINISBLACK"):
        decode_image(data, "white.tif")


def test_cmyk_tiff_is_refused():
    data = tiff_bytes(random_array(np.uint8, "rgba"), photometric="separated")
    with pytest.raises(InputError, match="cmyk.tif: CMYK TIFF is not supported; convert it to RGB"):
        decode_image(data, "cmyk.tif")


PALETTE_INDICES = np.array([[0, 1, 2], [255, 1, 0]], np.uint8)
EIGHT_BIT_COLOURS = np.array([[0, 10, 20], [255, 128, 1], [7, 8, 9]], np.uint16)  # rows: entries 0, 1, 2


@pytest.mark.parametrize("scale", [1, 256, 257], ids=["as-is", "times-256", "times-257"])
def test_palette_tiff_of_eight_bit_entries_becomes_eight_bit_rgb(scale):
    colormap = np.zeros((3, 256), np.uint16)
    colormap[:, :3] = EIGHT_BIT_COLOURS.T * scale
    colormap[:, 255] = 200 * scale
    image = decode_image(tiff_bytes(PALETTE_INDICES, photometric="palette", colormap=colormap), "p.tif")
    assert image.source_dtype == np.uint8 and image.pixels.shape == (2, 3, 3)
    table = np.vstack([EIGHT_BIT_COLOURS, np.zeros((252, 3)), [[200, 200, 200]]])
    np.testing.assert_array_equal(np.rint(image.pixels * 255), table[PALETTE_INDICES])


def test_palette_tiff_of_sixteen_bit_entries_becomes_sixteen_bit_rgb():
    colormap = np.random.default_rng(2).integers(0, 65536, (3, 256)).astype(np.uint16)
    colormap[0, 0] = 1000  # neither 8-bit values nor multiples of 256
    image = decode_image(tiff_bytes(PALETTE_INDICES, photometric="palette", colormap=colormap), "p.tif")
    assert image.source_dtype == np.uint16
    np.testing.assert_array_equal(np.rint(image.pixels * 65535), colormap.T[PALETTE_INDICES])


def test_palette_tiff_written_by_pillow_becomes_its_rgb():
    palette_image = PILImage.fromarray(PALETTE_INDICES, "P")
    palette_image.putpalette([v % 256 for v in range(256 * 3)])
    buffer = io.BytesIO()
    palette_image.save(buffer, format="TIFF")
    expected = np.asarray(palette_image.convert("RGB"))
    np.testing.assert_array_equal(np.rint(decode_image(buffer.getvalue(), "p.tif").pixels * 255), expected)


def test_lzw_palette_tiff_becomes_its_rgb():
    palette_image = PILImage.fromarray(PALETTE_INDICES, "P")
    palette_image.putpalette(np.random.default_rng(3).integers(0, 256, 256 * 3).tolist())
    buffer = io.BytesIO()
    palette_image.save(buffer, format="TIFF", compression="tiff_lzw")
    expected = np.asarray(palette_image.convert("RGB"))
    np.testing.assert_array_equal(np.rint(decode_image(buffer.getvalue(), "p.tif").pixels * 255), expected)


def test_associated_alpha_is_unpremultiplied_and_written_unassociated(tmp_path):
    colour = np.array([[[0, 0, 0], [50, 100, 25], [255, 0, 128], [9, 9, 9]]], np.uint8)
    alpha = np.array([[0, 100, 255, 10]], np.uint8)
    path = tmp_path / "assoc.tif"
    path.write_bytes(tiff_bytes(np.dstack([colour, alpha]), photometric="rgb", extrasamples=["assocalpha"]))
    image = read_image(path)
    expected = np.array([[[0, 0, 0], [128, 255, 64], [255, 0, 128], [230, 230, 230]]])  # rint(c * 255 / a)
    np.testing.assert_array_equal(np.rint(image.pixels * 255), expected)
    np.testing.assert_array_equal(image.alpha * 255, alpha)
    write_image(tmp_path / "out.tif", image)
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        assert tiff.pages[0].extrasamples == (tifffile.EXTRASAMPLE.UNASSALPHA,)
        np.testing.assert_array_equal(tiff.asarray(), np.dstack([expected, alpha]))


def test_associated_alpha_of_float_tiff_is_divided_out():
    array = np.array([[[0.25, 0.5], [0.0, 0.0], [0.3, 2.0]]], np.float32)  # grey, alpha
    image = decode_image(tiff_bytes(array, photometric="minisblack", extrasamples=["assocalpha"]), "f.tif")
    np.testing.assert_allclose(image.pixels, [[0.5, 0.0, 0.15]], rtol=1e-6)
    np.testing.assert_array_equal(image.alpha, array[..., 1])


def test_associated_alpha_of_float_tiff_beyond_float32_is_one_error_without_warnings(recwarn):
    array = np.array([[[3e38, 0.0, 0.0, 1e-3]]], np.float32)
    with pytest.raises(InputError, match="holds 1 value beyond float32's range"):
        decode_image(tiff_bytes(array, photometric="rgb", extrasamples=["assocalpha"]), "huge.tif")
    assert not recwarn.list


def test_miniswhite_alpha_is_not_inverted():
    grey_alpha = np.array([[[0, 255], [100, 0]], [[200, 128], [50, 255]]], np.uint8)
    data = tiff_bytes(grey_alpha, photometric="miniswhite", extrasamples=["unassalpha"])
    image = decode_image(data, "white.tif")
    np.testing.assert_array_equal(image.pixels * 255, 255 - grey_alpha[..., 0])
    np.testing.assert_array_equal(image.alpha * 255, grey_alpha[..., 1])


@pytest.mark.parametrize("array, kwargs, message", [
    (np.arange(16, dtype=np.int16).reshape(4, 4), {"photometric": "miniswhite"},
     "signed 16-bit samples in a TIFF are not supported"),
    (np.zeros((3, 3, 3), np.uint8), {"photometric": "minisblack", "planarconfig": "contig",
                                     "extrasamples": ["unassalpha", "unspecified"]},
     "TIFF with 2 extra samples is not supported, only one (alpha)"),
    (np.ones((2, 3, 4), bool), {"photometric": "rgb", "bitspersample": 1, "extrasamples": ["assocalpha"]},
     "1-bit TIFF of several samples (colour or alpha) is not supported"),
])
def test_tiff_samples_of_no_supported_meaning_are_refused(array, kwargs, message):
    with pytest.raises(InputError, match=re.escape(message)):
        decode_image(tiff_bytes(array, **kwargs), "x.tif")


def test_a_tiff_of_images_of_different_sizes_is_read_as_its_first():
    first = random_array(np.uint8, "rgb")
    buffer = io.BytesIO()
    PILImage.fromarray(first).save(buffer, format="TIFF", save_all=True, append_images=[PILImage.fromarray(first[:10])])
    np.testing.assert_array_equal(np.rint(decode_image(buffer.getvalue(), "pages.tif").pixels * 255), first)


def test_associated_alpha_of_zero_keeps_the_stored_colour():
    array = np.zeros((2, 2, 4), np.uint8)
    array[..., :3] = 10
    array[..., 3] = [[0, 20], [255, 255]]
    image = decode_image(tiff_bytes(array, photometric="rgb", extrasamples=["assocalpha"]), "a.tif")
    np.testing.assert_array_equal(np.rint(image.pixels[..., 0] * 255), [[10, 128], [10, 10]])


def test_infinite_float_samples_under_associated_alpha_are_one_error(recwarn):
    array = np.full((4, 5, 4), 0.5, np.float32)
    array[0, 0] = np.inf
    with pytest.raises(InputError, match="NaN|infinite"):
        decode_image(tiff_bytes(array, photometric="rgb", extrasamples=["assocalpha"]), "inf.tif")
    assert not recwarn.list


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


def partial_of(path, token="0123abcd"):
    """The name a write of ``path`` interrupted for good leaves, with a given random part."""
    from deblur_cli.images import _partial_prefix

    return _partial_prefix(path) + token + ".part"


def test_partial_writes_of_another_target_are_kept(tmp_path):
    # a.png.png's temporary names start as a.png's do: only the exact form is a.png's.
    ours = tmp_path / partial_of(tmp_path / "a.png")
    others = [tmp_path / partial_of(tmp_path / "a.png.png"), tmp_path / partial_of(tmp_path / "a.png", "0123abc"),
              tmp_path / partial_of(tmp_path / "a.png", "0123abcD")]
    for path in [ours, *others]:
        path.write_bytes(b"x")
    remove_partial_writes(tmp_path / "a.png")
    assert sorted(tmp_path.iterdir()) == sorted(others)
    remove_partial_writes(tmp_path / "a.png.png", tmp_path / "b.png")
    assert sorted(tmp_path.iterdir()) == sorted(others[1:])


@pytest.mark.parametrize("name", ["a" * 246 + ".png", "\u00e9" * 123 + ".png"])  # 250 bytes in UTF-8
def test_a_name_of_250_bytes_is_written_and_its_partial_writes_found(tmp_path, name):
    if os.pathconf(tmp_path, "PC_NAME_MAX") < 255:
        pytest.skip("the file system takes shorter names")
    target = tmp_path / name
    atomic_write_bytes(target, b"data")
    assert target.read_bytes() == b"data" and os.listdir(tmp_path) == [name]
    stale = tmp_path / partial_of(target)
    assert len(os.fsencode(stale.name)) <= 255 and stale.name.startswith("." + name[:100])
    stale.write_bytes(b"x")
    other = tmp_path / partial_of(tmp_path / (name[:-5] + "b.png"))  # cut to the same start, another hash
    other.write_bytes(b"x")
    remove_partial_writes(target)
    assert sorted(os.listdir(tmp_path)) == sorted([name, other.name])


def png_chunks(data):
    """(offset, type) of each chunk of a PNG, read with nothing but struct."""
    chunks, offset = [], 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        chunks.append((offset, kind))
        offset += 12 + length
    return chunks


def damaged_png(kind):
    """An OpenCV-written PNG, truncated or with bytes flipped in one chunk (its CRC left as it was)."""
    data = bytearray(encode_independently(random_array(np.uint8, "rgb", shape=(64, 64)), ".png"))
    if kind == "truncated":
        return bytes(data[: len(data) // 2])
    offset = next(o for o, k in png_chunks(data) if k == kind.encode())  # first chunk of that type
    data[offset + 8 + 4 : offset + 8 + 8] = bytes(b ^ 0xFF for b in data[offset + 8 + 4 : offset + 8 + 8])
    return bytes(data)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("truncated", r"ends inside chunk IDAT \(at byte \d+ of \d+\)"),
        ("IHDR", "chunk IHDR at byte 8 has a bad CRC"),
        ("IDAT", r"chunk IDAT at byte \d+ has a bad CRC"),
    ],
)
def test_damaged_png_is_refused_before_libpng_sees_it(kind, message, capfd):
    with pytest.raises(InputError, match=message):
        decode_image(damaged_png(kind), "bad.png")
    assert capfd.readouterr().err == ""  # libpng and OpenCV printed nothing


def test_png_without_iend_is_refused():
    data = encode_independently(random_array(np.uint8, "grey"), ".png")
    iend = [o for o, k in png_chunks(data) if k == b"IEND"][0]
    with pytest.raises(InputError, match="no IEND chunk"):
        decode_image(data[:iend], "cut.png")


def test_png_with_iend_before_its_data_is_refused():
    data = encode_independently(random_array(np.uint8, "grey"), ".png")
    chunks = png_chunks(data)
    first_idat = [o for o, k in chunks if k == b"IDAT"][0]
    iend = [o for o, k in chunks if k == b"IEND"][0]
    with pytest.raises(InputError, match="IEND before any IDAT"):
        decode_image(data[:first_idat] + data[iend:], "empty.png")


def test_valid_pngs_of_other_encoders_pass_the_chunk_check():
    # Bytes after IEND are ignored by readers, and so by the check; Pillow adds a text chunk.
    from PIL import PngImagePlugin

    array = random_array(np.uint16, "rgb", shape=(40, 30))
    ok, data = cv2.imencode(".png", array[..., ::-1])
    assert ok
    np.testing.assert_array_equal(np.rint(decode_image(data.tobytes() + b"junk").pixels * 65535), array)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "made by Pillow")
    buffer = io.BytesIO()
    grey = random_array(np.uint8, "grey", shape=(60, 70))
    PILImage.fromarray(grey).save(buffer, format="PNG", pnginfo=info)
    assert sum(k == b"tEXt" for _, k in png_chunks(buffer.getvalue())) == 1
    np.testing.assert_array_equal(np.rint(decode_image(buffer.getvalue()).pixels * 255), grey)


def tiff_with_first_page_past_the_end():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, random_array(np.uint8, "grey"))
    data = bytearray(buffer.getvalue())
    struct.pack_into("<I", data, 4, len(data) + 4096)  # offset of the first IFD
    return bytes(data)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"II*\x00\x08\x00\x00\x00", "invalid offset to first page 8"),
        (tiff_with_first_page_past_the_end(), "invalid offset"),
    ],
    ids=["header-only", "offset-past-end"],
)
def test_tiff_without_a_readable_page_is_refused_quietly(data, reason, capfd):
    expected = rf"TIFF holds no readable image \({reason}.*\); the file is damaged or truncated"
    with pytest.raises(InputError, match=expected):
        decode_image(data, "bad.tif")
    assert capfd.readouterr().err == ""


def test_tifffile_logging_is_silenced_only_during_our_reads(caplog):
    data = b"II*\x00\x08\x00\x00\x00"
    with pytest.raises(InputError):
        decode_image(data, "bad.tif")
    assert not caplog.records  # our read: the record went nowhere
    logger = logging.getLogger("tifffile")
    assert logger.filters == [] and logger.level == logging.NOTSET and not logger.disabled
    with caplog.at_level(logging.WARNING, logger="tifffile"):
        tifffile.TiffFile(io.BytesIO(data)).close()  # another reader's: the record still reaches logging
    assert any("invalid offset to first page" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_tiff_with_non_finite_samples_is_refused(bad):
    array = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    array[1, 2] = bad
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array)
    with pytest.raises(InputError, match=r"holds 1 (NaN|infinite) value; give finite values$"):
        decode_image(buffer.getvalue(), "nan.tif")


def test_non_finite_alpha_is_refused_too():
    array = np.zeros((3, 4, 2), np.float32)
    array[0, 0, 1] = np.nan
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, photometric="minisblack", extrasamples=["unassalpha"])
    with pytest.raises(InputError, match="holds 1 NaN value"):
        decode_image(buffer.getvalue(), "nan.tif")


def header_claiming(extension, width, height):
    """A small image encoded by OpenCV whose header is patched to claim another size."""
    ok, encoded = cv2.imencode(extension, np.full((8, 8, 3), 100, np.uint8))
    assert ok
    data = bytearray(encoded.tobytes())
    if extension == ".jpg":
        sof = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
        struct.pack_into(">HH", data, sof + 5, height, width)
    else:
        struct.pack_into("<ii", data, 18, width, height)  # BITMAPINFOHEADER
    return bytes(data)


@pytest.mark.parametrize("extension", [".jpg", ".bmp"])
def test_our_pixel_limit_comes_before_pillows(extension):
    data = header_claiming(extension, 14000, 14000)
    with pytest.raises(InputError, match=r"196,000,000 pixels, above the limit of 1,000 .*raise it with --max-pixels"):
        decode_image(data, "big" + extension, max_pixels=1000)


@pytest.mark.parametrize("max_pixels", [5_000_000_000, None])
def test_pillows_pixel_limit_does_not_apply_to_a_bmp_header_above_it(max_pixels):
    # Pillow refuses 196 MP (twice its limit) before decoding anything; lifted, the read goes on
    # and fails on the missing pixel data instead.
    with pytest.raises(InputError, match="truncated") as error:
        decode_image(header_claiming(".bmp", 14000, 14000), "big.bmp", max_pixels=max_pixels)
    assert "decompression bomb" not in str(error.value) and "exceeds limit" not in str(error.value)


@pytest.mark.parametrize("extension", [".jpg", ".bmp", ".webp"])
@pytest.mark.parametrize("pillow_limit", [3_999, 1_999], ids=["pillow-warns", "pillow-refuses"])
def test_pillows_pixel_limit_is_lifted_for_our_reads_only(monkeypatch, extension, pillow_limit):
    # A JPEG's missing data is filled in by libjpeg, so a 196 MP header would be decoded whole:
    # Pillow's limit is lowered instead, under a small real image of 4,000 pixels. Pillow warns
    # above its limit (an error under pytest's filterwarnings) and refuses above twice it.
    from PIL import Image as PILModule

    monkeypatch.setattr(PILModule, "MAX_IMAGE_PIXELS", pillow_limit)
    array = random_array(np.uint8, "rgb", shape=(40, 100))
    lossless = [cv2.IMWRITE_WEBP_QUALITY, 101] if extension == ".webp" else []
    ok, data = cv2.imencode(extension, array[..., ::-1], lossless)
    assert ok
    image = decode_image(data.tobytes(), "x" + extension, max_pixels=4_000)
    assert image.shape == (40, 100)
    if extension != ".jpg":
        np.testing.assert_array_equal(np.rint(image.pixels * 255), array)
    assert PILModule.MAX_IMAGE_PIXELS == pillow_limit  # put back after the read


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("layout", ["rgb", "rgba", "grey+alpha"])
def test_planar_tiff_is_read_as_interleaved(dtype, layout):
    array = random_array(dtype, layout, shape=(40, 50))
    buffer = io.BytesIO()
    extra = {"extrasamples": ["unassalpha"]} if layout != "rgb" else {}
    photometric = "minisblack" if layout == "grey+alpha" else "rgb"
    tifffile.imwrite(buffer, array.transpose(2, 0, 1), photometric=photometric, planarconfig="separate", **extra)
    with tifffile.TiffFile(io.BytesIO(buffer.getvalue())) as tiff:
        assert tiff.pages[0].planarconfig == tifffile.PLANARCONFIG.SEPARATE
    image = decode_image(buffer.getvalue(), "planar.tif")
    top = np.iinfo(dtype).max
    colour = array[..., :-1] if image.alpha is not None else array
    np.testing.assert_array_equal(np.rint(image.pixels * top), colour.squeeze())
    if layout != "rgb":
        np.testing.assert_array_equal(np.rint(image.alpha * top), array[..., -1])


def test_tiff_stack_of_several_images_is_refused_before_decoding():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((5, 8, 9), np.uint8), photometric="minisblack", metadata={"axes": "ZYX"})
    with pytest.raises(InputError, match=r"axes ZYX of shape \(5, 8, 9\), not one 2-D image"):
        decode_image(buffer.getvalue(), "stack.tif")


@pytest.mark.parametrize("shape", [(1, 8, 9), (8, 9, 1), (1, 1, 8, 9)])
def test_tiff_series_with_length_one_axes_is_one_image(shape):
    array = random_array(np.uint16, "grey", shape=(8, 9)).reshape(shape)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, photometric="minisblack")
    image = decode_image(buffer.getvalue(), "shaped.tif")
    np.testing.assert_array_equal(np.rint(image.pixels * 65535), array.reshape(8, 9))


def test_output_inside_a_file_is_refused_as_not_a_directory(tmp_path):
    (tmp_path / "some.png").write_bytes(b"x")
    for output in (tmp_path / "some.png" / "o.png", tmp_path / "some.png" / "sub" / "o.png"):
        with pytest.raises(OutputError, match=r"some\.png is not a directory"):
            check_output_path(output)


def test_closed_stdout_is_an_output_error(monkeypatch):
    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(OutputError, match="standard output is closed"):
        atomic_write_bytes("-", b"data")


def _png_with_transparency(rows, colour_type, depth, transparency):
    """A PNG written by hand: IHDR, tRNS, one IDAT of unfiltered rows (already packed), IEND."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    height, width = len(rows), rows.shape[1] * 8 // depth if depth < 8 else rows.shape[1]
    if colour_type == 2:
        width //= 3
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"tRNS", transparency)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(
    "rows, colour_type, depth, transparency, alpha",
    [
        (np.array([[0, 7, 200], [7, 7, 255]], np.uint8), 0, 8, struct.pack(">H", 7), [[1, 0, 1], [0, 0, 1]]),
        (np.array([[0, 1799, 65535]], ">u2"), 0, 16, struct.pack(">H", 1799), [[1, 0, 1]]),
        (np.packbits(np.array([[1, 0, 1, 1, 0, 0, 0, 0]], np.uint8), axis=1), 0, 1, struct.pack(">H", 1),
         [[0, 1, 0, 0, 1, 1, 1, 1]]),
        (np.array([[9, 9, 9, 7, 7, 7]], np.uint8), 2, 8, struct.pack(">HHH", 7, 7, 7), [[1, 0]]),
    ],
    ids=["grey8", "grey16", "grey1", "rgb8"],
)
def test_a_transparent_colour_becomes_alpha(rows, colour_type, depth, transparency, alpha):
    image = decode_image(_png_with_transparency(rows, colour_type, depth, transparency))
    np.testing.assert_array_equal(image.alpha, np.array(alpha, np.float32))


def test_a_palette_with_alpha_keeps_it(recwarn):
    palette = PILImage.fromarray(np.array([[0, 1, 2]], np.uint8), mode="P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    buffer = io.BytesIO()
    palette.save(buffer, "png", transparency=bytes([255, 0, 51]))
    image = decode_image(buffer.getvalue())
    np.testing.assert_array_equal(image.alpha, np.array([[1, 0, 0.2]], np.float32))
    np.testing.assert_array_equal(image.pixels, np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1]]], np.float32))
    assert not recwarn.list


def test_jpeg_that_pillow_rejects_gives_pillows_reason():
    with pytest.raises(InputError, match=r"^bad.jpg: cannot decode image: Truncated File Read; the file is damaged"):
        decode_image(b"\xff\xd8\xff\xe0" + b"garbage" * 4, "bad.jpg")


@pytest.mark.parametrize("width, height", [(0, 5), (5, 0)])
def test_png_of_no_pixels_is_refused_before_libpng(width, height, capfd):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    with pytest.raises(InputError, match=rf"^empty.png: PNG header gives a size of {width} x {height}, no pixels"):
        decode_image(data, "empty.png")
    assert capfd.readouterr().err == ""


def test_float64_tiff_beyond_float32_is_refused_naming_the_range():
    array = np.array([[1e300, 0.5], [-1e39, 0.0]])
    with pytest.raises(InputError, match=r"holds 2 values beyond float32's range; give finite values within float32's range$"):
        decode_image(tiff_bytes(array), "big.tif")
    assert decode_image(tiff_bytes(np.array([[3e38, 0.5]])), "ok.tif").pixels[0, 0] == np.float32(3e38)


@pytest.mark.parametrize("extension", [".png", ".webp"])
def test_animation_is_read_as_its_first_frame_only(extension):
    frames = [PILImage.fromarray(np.full((6, 8, 3), value, np.uint8)) for value in (10, 200, 90)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=extension[1:], save_all=True, append_images=frames[1:], lossless=True)
    data = buffer.getvalue()
    image = decode_image(data, f"anim{extension}", max_pixels=48)  # one frame's pixels, not three's
    np.testing.assert_array_equal(image.pixels * 255, np.full((6, 8, 3), 10))
    with pytest.raises(InputError, match="--max-pixels"):
        decode_image(data, f"anim{extension}", max_pixels=47)


@pytest.mark.parametrize("extension, rotated", [(".jpeg", True), (".webp", False)])
def test_exif_orientation_is_applied_to_jpeg_only(extension, rotated):
    exif = PILImage.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    PILImage.fromarray(np.zeros((6, 10, 3), np.uint8)).save(buffer, format=extension[1:], exif=exif)
    assert decode_image(buffer.getvalue(), f"x{extension}").shape == ((10, 6) if rotated else (6, 10))


def test_webp_holds_grey_as_rgb_and_loses_an_opaque_alpha():
    grey = random_array(np.uint8, "grey")
    image = Image(grey / np.float32(255), np.ones(grey.shape, np.float32))
    back = decode_image(encode_image(image, ".webp"), "x.webp")
    assert back.alpha is None  # libwebp stores no alpha that is opaque everywhere
    np.testing.assert_array_equal(np.rint(back.pixels * 255), np.dstack([grey] * 3))


def uncompressed_grey_tiff(width, height, bits, samples, photometric=1):
    """A minimal one-strip TIFF, for bit depths that tifffile writes only with imagecodecs."""
    entries = [(256, width), (257, height), (258, bits), (259, 1), (262, photometric), (273, 0), (277, 1),
               (278, height), (279, len(samples))]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, value in entries:
        ifd += struct.pack("<HHII", tag, 4, 1, data_offset if tag == 273 else value)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + samples


def test_twelve_bit_tiff_is_refused_naming_the_depth():
    data = uncompressed_grey_tiff(2, 1, 12, bytes(3))
    with pytest.raises(InputError, match="12-bit samples in a TIFF are not supported; save it with 8 or 16 bits"):
        decode_image(data, "g12.tif")


@pytest.mark.parametrize("photometric, expected", [(1, [0, 85, 170, 255]), (0, [255, 170, 85, 0])])
def test_four_bit_grey_tiff_is_scaled_exactly_to_eight_bits(photometric, expected):
    data = uncompressed_grey_tiff(4, 1, 4, bytes([0x05, 0xAF]), photometric)
    np.testing.assert_array_equal(np.rint(decode_image(data, "g4.tif").pixels * 255), [expected])
