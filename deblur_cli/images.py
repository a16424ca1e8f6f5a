"""Reading and writing images without loss of range.

Internal form (DESIGN.md section 3): an :class:`Image` holds the colour channels as
float32, (H, W) or (H, W, C), scaled to [0, 1] for integer sources by the dtype's
maximum (255, 65535); float sources are kept as they are. Alpha is kept apart, in the
same scale, and passes through processing untouched. Writing goes back to the source
bit depth unless asked otherwise, clipped and rounded, so reading then writing an
unprocessed image gives the same pixel values.

PNG goes through OpenCV, faster than Pillow and exact at 16 bits in colour (Pillow
silently reduces 16-bit colour to 8 bits); palette PNG, which Pillow expands to RGB,
and 8-bit grey+alpha, which OpenCV cannot write, go through Pillow; 16-bit
grey+alpha is written by a minimal PNG encoder here. JPEG, BMP and WebP go through
imageio and Pillow, TIFF through :mod:`deblur_cli.tiff` (tifffile, with imagecodecs for compressed data),
written by tifffile.

A damaged file gives one error line and nothing else on stderr: a PNG's chunks are
checked here before libpng (which prints its complaints from C) sees them,
tifffile's log records are held back during our reads, and Pillow's own
decompression-bomb limit is lifted during our reads, ``max_pixels`` being checked
first and the only limit.
"""

import contextlib
import os
import struct
import sys
import threading
import zlib
from dataclasses import dataclass, replace

import numpy as np

from .checks import check_int, check_values, image_array
from .errors import InputError, OutputError, ParameterError
from .formats import DEFAULT_MAX_PIXELS, FORMATS

__all__ = [
    "Image",
    "read_image",
    "decode_image",
    "write_image",
    "encode_image",
    "check_output_path",
    "check_stdout_open",
    "make_output_directory",
    "check_bit_depth",
    "format_extension",
    "atomic_write_bytes",
    "remove_partial_writes",
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
]

_EIGHT_BIT_ONLY = {".jpg", ".bmp", ".webp"}
_NO_ALPHA = {".jpg", ".bmp"}  # alpha is dropped: JPEG has none, and BMP readers ignore it
_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
    (b"II+\x00", ".tif"),
    (b"MM\x00+", ".tif"),
    (b"BM", ".bmp"),
]
_CONVERT_TO_RGB = {"CMYK", "YCbCr", "LAB", "HSV", "RGBX"}


@dataclass(frozen=True)
class Image:
    """An image in the internal form.

    Attributes
    ----------
    pixels : ndarray of float32
        Colour channels, shape (H, W) for grey or (H, W, 3) for RGB, in [0, 1] for
        integer sources.
    alpha : ndarray of float32 or None
        Alpha channel, shape (H, W), in the same scale as ``pixels``.
    source_dtype : numpy.dtype
        The dtype the image was stored in: uint8, uint16 or float32.
    path : str or None
        Where it was read from (``-`` for standard input).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    source_dtype: np.dtype = np.dtype(np.uint8)
    path: str | None = None

    @property
    def shape(self):
        """(H, W) of the image."""
        return self.pixels.shape[:2]

    @property
    def channels(self):
        """Number of colour channels (1 or 3), alpha not counted."""
        return 1 if self.pixels.ndim == 2 else self.pixels.shape[2]

    @property
    def bit_depth(self):
        """8, 16 or ``"float"``, from the source dtype."""
        return _bit_depth_of(self.source_dtype)

    def with_pixels(self, pixels, alpha=None):
        """Return a copy holding new colour channels (and, optionally, a new alpha).

        Parameters
        ----------
        pixels : ndarray
            New colour channels, (H', W') or (H', W', C).
        alpha : ndarray, optional
            New alpha of shape (H', W'); by default the old one, which must then
            still fit the new size.

        Returns
        -------
        Image
            Same source dtype and path, new pixels.

        Raises
        ------
        ValueError
            The alpha does not have the new pixels' (H', W').
        """
        new_alpha = self.alpha if alpha is None else alpha
        if new_alpha is not None and new_alpha.shape != pixels.shape[:2]:
            raise ValueError(
                f"alpha of shape {new_alpha.shape} does not fit pixels of shape {pixels.shape}"
            )
        return replace(self, pixels=np.asarray(pixels, dtype=np.float32), alpha=new_alpha)


def _bit_depth_of(dtype):
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return 8
    if dtype == np.uint16:
        return 16
    return "float"


def _dtype_of(bit_depth):
    return {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), "float": np.dtype(np.float32)}[
        bit_depth
    ]


def format_extension(path, fmt=None):
    """The file extension (``.png``, ``.jpg``, ``.tif``, ...) meant by a format name or a path.

    Parameters
    ----------
    path : str or os.PathLike
        File name whose extension is used when ``fmt`` is None.
    fmt : str, optional
        Format name as accepted by ``--format``.

    Returns
    -------
    str or None
        None when the path's extension is not an image format.
    """
    if fmt is not None:
        try:
            return FORMATS[fmt.lower().lstrip(".")]
        except KeyError:
            raise ParameterError(
                f"unknown format {fmt!r}; use one of {', '.join(sorted(FORMATS))}"
            ) from None
    ext = os.path.splitext(str(path))[1].lower()
    return FORMATS.get(ext.lstrip("."))


def _sniff(data):
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


def _read_bytes(path):
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError("no such file; check the path", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not an image file", path) from None
    except PermissionError:
        raise InputError("permission denied; check the file's permissions", path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path) from None


def _png_header(data, path):
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk."""
    if len(data) < 29 or data[12:16] != b"IHDR":
        raise InputError("not a valid PNG file (no IHDR header); the file is damaged", path)
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    if width == 0 or height == 0:
        raise InputError(f"PNG header gives a size of {width} x {height}, no pixels; the file is damaged", path)
    return width, height, depth, colour_type


def _check_png_chunks(data, path):
    """Walk a PNG's chunks: each fits in the data, its CRC matches, and IEND follows the IDATs.

    libpng would find the same damage, but it prints its own line on stderr before
    OpenCV returns; this walk costs a CRC over the file, under a millisecond per MB.
    Returns the body of the tRNS chunk (transparency), or None.
    """
    view = memoryview(data)
    offset, idat, transparency = 8, False, None
    while True:
        if offset + 12 > len(data):
            raise InputError(
                f"cannot decode PNG: the file ends at byte {len(data)} with no IEND chunk; "
                "the file is damaged or truncated",
                path,
            )
        length, kind = struct.unpack_from(">I4s", data, offset)
        name = kind.decode("latin-1")
        if not kind.isalpha():
            raise InputError(f"cannot decode PNG: damaged chunk header at byte {offset}; the file is damaged", path)
        end = offset + 12 + length
        if end > len(data):
            raise InputError(
                f"cannot decode PNG: the file ends inside chunk {name} (at byte {len(data)} of {end}); "
                "the file is damaged or truncated",
                path,
            )
        if zlib.crc32(view[offset + 4 : end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            raise InputError(
                f"cannot decode PNG: chunk {name} at byte {offset} has a bad CRC; the file is damaged", path
            )
        if kind == b"IDAT":
            idat = True
        elif kind == b"tRNS":
            transparency = bytes(view[offset + 8 : end - 4])
        elif kind == b"IEND":
            if not idat:
                raise InputError(
                    "cannot decode PNG: IEND before any IDAT chunk, no image data; the file is damaged", path
                )
            return transparency
        offset = end


_PILLOW_LOCK = threading.Lock()
_pillow_readers = [0, None]  # reads under way, and Pillow's limit to put back after the last


@contextlib.contextmanager
def _pillow_limit_lifted():
    """Pillow's decompression-bomb limit off while our reads run: ``max_pixels`` is checked instead.

    Pillow refuses images above twice its limit and warns above it, before we can
    check ours; its limit is module state, so concurrent reads count themselves in
    and the last one out restores it.
    """
    from PIL import Image as PILImage

    with _PILLOW_LOCK:
        if _pillow_readers[0] == 0:
            _pillow_readers[1] = PILImage.MAX_IMAGE_PIXELS
            PILImage.MAX_IMAGE_PIXELS = None
        _pillow_readers[0] += 1
    try:
        yield
    finally:
        with _PILLOW_LOCK:
            _pillow_readers[0] -= 1
            if _pillow_readers[0] == 0:
                PILImage.MAX_IMAGE_PIXELS = _pillow_readers[1]


def _decode(data, path, max_pixels):
    import imageio.v3 as iio

    if not data:
        if str(path) == "-":
            raise InputError("standard input is empty; pipe an image into it")
        raise InputError("file is empty (0 bytes); it is not an image", path)
    ext = _sniff(data)
    if ext is None:
        raise InputError(
            "not a supported image (PNG, JPEG, TIFF, BMP or WebP expected); "
            "the file's content does not match any of them",
            path,
        )
    if ext == ".png":
        width, height, depth, colour_type = _png_header(data, path)
        transparency = _check_png_chunks(data, path)
        _check_pixel_count(width * height, path, max_pixels)
        if colour_type != 3:  # all but palette images, which Pillow expands to RGB(A)
            return _decode_png(data, path, colour_type, depth, transparency)
    elif ext == ".tif":
        from .tiff import decode_tiff

        return decode_tiff(data, path, max_pixels)
    try:
        with _pillow_limit_lifted():
            if ext != ".png":
                props = iio.improps(data, extension=ext, plugin="pillow", index=0)
                _check_pixel_count(int(np.prod(props.shape[:2])), path, max_pixels)
            kwargs = {"rotate": ext == ".jpg"}  # EXIF orientation: JPEG's alone, as OpenCV and tifffile ignore it
            meta = iio.immeta(data, extension=ext, plugin="pillow", index=0)
            if meta.get("mode") in _CONVERT_TO_RGB:
                kwargs["mode"] = "RGB"
            elif meta.get("mode") == "P" and "transparency" in meta:  # a palette with alpha
                kwargs["mode"] = "RGBA"
            return iio.imread(data, extension=ext, plugin="pillow", index=0, **kwargs)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"cannot decode image: {_short(e)}; the file is damaged or truncated", path) from None


def _decode_png(data, path, colour_type, depth, transparency):
    """PNG through OpenCV: faster than Pillow, and it keeps 16-bit colour (Pillow reduces it to 8 bits).

    OpenCV turns the transparent colour of an RGB image (tRNS) into alpha, but drops
    the transparent level of a grey one: that alpha is made here.
    """
    import cv2

    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise InputError("cannot decode PNG; the file is damaged or truncated", path)
    if array.ndim == 2:
        if colour_type == 0 and transparency is not None and len(transparency) >= 2:
            level = struct.unpack(">H", transparency[:2])[0]
            if depth < 8:  # libpng scales 1, 2 and 4-bit levels up to 8 bits
                level *= 255 // (2**depth - 1)
            opaque = np.iinfo(array.dtype).max
            return np.stack([array, np.where(array == level, 0, opaque).astype(array.dtype)], axis=-1)
        return array
    if colour_type == 4:  # grey + alpha, expanded by OpenCV to BGRA
        return np.stack([array[..., 0], array[..., 3]], axis=-1)
    if colour_type == 0:  # grey with a transparent level (tRNS), expanded to BGRA
        return np.stack([array[..., 0], array[..., 3]], axis=-1) if array.shape[2] == 4 else array[..., 0]
    return cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def _short(e):
    """The first line of an exception's message, from its root cause (imageio wraps Pillow's)."""
    while e.__cause__ is not None:
        e = e.__cause__
    text = str(e).strip().splitlines()
    return text[0] if text and text[0] else type(e).__name__


def _check_pixel_count(count, path, max_pixels):
    if max_pixels is not None and count > max_pixels:
        raise InputError(
            f"image has {count:,} pixels, above the limit of {max_pixels:,} "
            "(a guard against decompression bombs); raise it with --max-pixels",
            path,
        )


def read_image(path, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Read an image file into the internal form.

    Parameters
    ----------
    path : str or os.PathLike
        File to read, or ``"-"`` for standard input. The format is recognised from
        the content: PNG, JPEG, TIFF, BMP, WebP.
    max_pixels : int or None, optional
        Refuse images with more pixels than this (decompression bombs); None
        disables the check.

    Returns
    -------
    Image
        Colour channels as float32 in [0, 1] (integer sources), alpha apart.
        Palette images become RGB; CMYK and other colour spaces of JPEG and WebP
        become RGB (those of TIFF are refused); alpha is unassociated; an
        animation gives its first frame.

    Raises
    ------
    InputError
        Missing, empty, damaged or unsupported file, or too many pixels.
    """
    return decode_image(_read_bytes(path), path, max_pixels=max_pixels)


def decode_image(data, path=None, *, max_pixels=DEFAULT_MAX_PIXELS):
    """Decode the bytes of an image file into the internal form.

    Parameters
    ----------
    data : bytes
        Content of a PNG, JPEG, TIFF, BMP or WebP file.
    path : str, optional
        Name used in error messages and kept in ``Image.path``.
    max_pixels : int or None, optional
        See :func:`read_image`.

    Returns
    -------
    Image

    Raises
    ------
    InputError
        Empty, damaged or unsupported data, more pixels than ``max_pixels``, an
        unsupported layout, or float samples that are NaN, infinite or beyond
        float32's range.
    """
    array = _decode(data, path, max_pixels)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise InputError(f"unsupported image layout of shape {array.shape}", path)
    if array.dtype.kind == "b":
        array = array.astype(np.uint8) * 255
    source_dtype = array.dtype
    if array.dtype.kind == "f":
        check_values(array, "the image", np.float32, source=path)
        scaled = array.astype(np.float32)
        source_dtype = np.dtype(np.float32)
    elif array.dtype in (np.uint8, np.uint16):
        scaled = array.astype(np.float32) / np.float32(np.iinfo(array.dtype).max)
    else:
        raise InputError(
            f"unsupported sample type {array.dtype}; use 8-bit, 16-bit or float images", path
        )
    alpha = None
    if scaled.ndim == 3 and scaled.shape[2] in (2, 4):
        alpha = np.ascontiguousarray(scaled[..., -1])
        scaled = scaled[..., :-1]
        if scaled.shape[2] == 1:
            scaled = scaled[..., 0]
    return Image(np.ascontiguousarray(scaled), alpha, np.dtype(source_dtype), str(path))


def _to_dtype(array, dtype):
    if dtype.kind == "f":
        return array.astype(dtype)
    scaled = np.clip(array, 0.0, 1.0)  # the one temporary; the rest is in place
    scaled *= np.float32(np.iinfo(dtype).max)
    np.rint(scaled, out=scaled)
    return scaled.astype(dtype)


def check_bit_depth(extension, bit_depth):
    """Refuse a bit depth that a format cannot hold, before any work.

    Parameters
    ----------
    extension : str
        ``.png``, ``.jpg``, ``.tif``, ``.bmp`` or ``.webp``.
    bit_depth : {8, 16, "float"} or None
        The depth asked for; None (the source's) always passes.

    Raises
    ------
    ParameterError
        The format cannot hold that depth.
    """
    if bit_depth is None or bit_depth == 8:
        return
    if extension in _EIGHT_BIT_ONLY:
        raise ParameterError(f"{extension} files hold only 8-bit samples; use .png or .tif for {bit_depth}")
    if extension == ".png" and bit_depth == "float":
        raise ParameterError("PNG holds no float samples; use .tif for --bit-depth float")


def encode_image(image, extension, *, bit_depth=None, quality=95):
    """Encode an image to the bytes of a file.

    Parameters
    ----------
    image : Image
        What to encode.
    extension : str
        ``.png``, ``.jpg``, ``.tif``, ``.bmp`` or ``.webp``.
    bit_depth : {8, 16, "float"}, optional
        Sample type of the file; by default the source's, reduced to 8 for formats
        that only hold 8 bits (JPEG, BMP, WebP), and to 16 for a float source
        written as PNG. Integer outputs are clipped to [0, 1] and rounded to the
        nearest step; float outputs are written unclipped.
    quality : int, optional
        JPEG quality, an integer from 1 to 100 (checked whatever the format; the
        others ignore it); JPEG keeps colour at full resolution (4:4:4). WebP is
        written lossless.

    Returns
    -------
    bytes

    Raises
    ------
    InputError
        Pixels that are not grey or RGB of finite values, or an alpha of another size.
    ParameterError
        ``image`` is not an :class:`Image`, a bit depth the format cannot hold, or a
        quality that is not an integer from 1 to 100.
    """
    import imageio.v3 as iio

    if not isinstance(image, Image):
        raise ParameterError(
            f"image to write must be an Image (from read_image, or Image(pixels)), got {type(image).__name__}"
        )
    quality = check_int(quality, "JPEG quality", 1, 100)  # a Python int: Pillow refuses NumPy's
    if bit_depth not in (None, 8, 16, "float"):
        raise ParameterError(f"bit depth must be 8, 16 or float, got {bit_depth!r}")
    check_bit_depth(extension, bit_depth)
    _check_writable(image)
    depth = image.bit_depth if bit_depth is None else bit_depth
    if extension in _EIGHT_BIT_ONLY:
        depth = 8
    elif extension == ".png" and depth == "float":
        depth = 16
    dtype = _dtype_of(depth)
    planes = image.pixels if image.pixels.ndim == 3 else image.pixels[..., None]
    if image.alpha is not None and extension not in _NO_ALPHA:
        planes = np.concatenate([planes, image.alpha[..., None]], axis=-1)
    array = _to_dtype(planes, dtype)
    if array.shape[2] == 1:
        array = array[..., 0]
    if extension == ".png" and not (array.ndim == 3 and array.shape[2] == 2 and dtype == np.uint8):
        return _encode_png(array)
    kwargs = {}
    if extension == ".jpg":
        kwargs["quality"] = quality
        kwargs["subsampling"] = 0  # 4:4:4, colour at full resolution (Pillow's default halves it)
    elif extension == ".webp":
        kwargs["lossless"] = True
        kwargs["exact"] = True  # keep the colour under fully transparent pixels, which libwebp drops by default
    elif extension == ".tif":
        kwargs["compression"] = "zlib"
        kwargs["photometric"] = "rgb" if array.ndim == 3 and array.shape[2] >= 3 else "minisblack"
        if array.ndim == 3 and array.shape[2] in (2, 4):
            kwargs["extrasamples"] = ["unassalpha"]
    return iio.imwrite("<bytes>", array, extension=extension, **kwargs)


def _check_writable(image):
    """Refuse what no file can hold as it is: NaN would be written as 0, other channel counts mislabelled."""
    pixels = image_array(image.pixels, what="image to write")
    check_values(pixels, "image to write", np.float32)  # within float32, as a float file holds it
    if pixels.ndim == 3 and pixels.shape[2] not in (1, 3):
        raise InputError(f"image to write must be grey or RGB, got {pixels.shape[2]} colour channels")
    if image.alpha is not None:
        alpha = image_array(image.alpha, what="alpha to write")
        check_values(alpha, "alpha to write", np.float32)
        if alpha.shape != pixels.shape[:2]:
            raise InputError(f"alpha to write must be of shape {pixels.shape[:2]}, got {alpha.shape}")


def _encode_png(array):
    """PNG through OpenCV (several times faster than Pillow, and 16-bit colour too)."""
    if array.ndim == 3 and array.shape[2] == 2:
        return _encode_png_grey_alpha16(array)
    import cv2

    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".png", array)
    if not ok:
        raise OutputError("OpenCV could not encode the PNG")
    return buffer.tobytes()


def _encode_png_grey_alpha16(array):
    """A minimal PNG encoder for 16-bit grey+alpha, which OpenCV cannot write."""
    height, width = array.shape[:2]
    rows = np.ascontiguousarray(array, dtype=">u2").reshape(height, width * 2).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)  # filter type 0

    def chunk(kind, body):
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 16, 4, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _nearest_existing(path):
    """``path`` made absolute, or its nearest parent that exists."""
    existing = os.path.abspath(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    return existing


def make_output_directory(directory, option):
    """Create a directory outputs go into (and its parents), before any work.

    Parameters
    ----------
    directory : str or os.PathLike
        The directory; it may exist.
    option : str
        The option that named it, for the error message (``--out-dir``).

    Raises
    ------
    OutputError
        It, or a parent, is a file; or it cannot be created or written in.
    """
    existing = _nearest_existing(directory)
    if not os.path.isdir(existing):
        where = f"{option} is a file" if existing == os.path.abspath(directory) else f"{existing} is a file"
        raise OutputError(f"{where}, not a directory; choose another {option}", str(directory))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {option}: {e.strerror or e}; choose another {option}", str(directory)) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in {option}: permission denied; choose another {option}", str(directory))


def check_output_path(path, inputs=(), *, overwrite=False):
    """Refuse an output path before any work is done.

    Parameters
    ----------
    path : str or os.PathLike
        The output; ``"-"`` (standard output) always passes.
    inputs : iterable of path
        Files the command reads; writing over one of them is refused.
    overwrite : bool, optional
        Allow replacing an existing file (never an input).

    Raises
    ------
    OutputError
        The output is an input, exists without ``overwrite``, or its directory is
        missing or not writable.
    """
    path = str(path)
    if path == "-":
        return
    for source in inputs:
        if str(source) != "-" and _same_file(path, source):
            raise OutputError("output is the input file; choose another output path", path)
    if os.path.isdir(path):
        raise OutputError("output is a directory; give a file name", path)
    if os.path.lexists(path) and not overwrite:
        raise OutputError("output exists; pass --overwrite to replace it", path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        existing = _nearest_existing(directory)
        if not os.path.isdir(existing):
            raise OutputError(f"{existing} is not a directory; choose an output path inside a directory", path)
        raise OutputError(f"output directory {directory} does not exist; create it first", path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {directory} is not writable", path)


def _read_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()  # read once: changing the umask later would race with threads


_PARTIAL_SUFFIX = ".part"
_PARTIAL_TOKEN_HEX = 8  # hex digits of the random part of a temporary name
_NAME_MAX = 255  # bytes in a file name on the common file systems


def _partial_prefix(path):
    """The start of the temporary names of ``path``: ``.NAME.``, where NAME is the target's name.

    A name too long to leave room for the rest within 255 bytes is cut (at a character)
    and followed by ``~`` and a hash of the whole name, so that two long names still
    get prefixes of their own.
    """
    name = os.path.basename(path)
    room = _NAME_MAX - len(f"..{'0' * _PARTIAL_TOKEN_HEX}{_PARTIAL_SUFFIX}")
    if len(os.fsencode(name)) <= room:
        return f".{name}."
    import hashlib

    digest = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
    while len(os.fsencode(name + digest)) > room:
        name = name[:-1]
    return f".{name}{digest}."


def _is_partial_of(name, prefix):
    """Whether ``name`` is a temporary name made with ``prefix``, exactly: not another target's."""
    token = name[len(prefix) : -len(_PARTIAL_SUFFIX)]
    return (name.startswith(prefix) and name.endswith(_PARTIAL_SUFFIX) and len(token) == _PARTIAL_TOKEN_HEX
            and all(c in "0123456789abcdef" for c in token))


def _create_partial(path, directory):
    """Create a new temporary file for ``path`` in ``directory``; returns ``(fd, its path)``."""
    import secrets

    prefix = _partial_prefix(path)
    while True:
        temporary = os.path.join(directory, prefix + secrets.token_hex(_PARTIAL_TOKEN_HEX // 2) + _PARTIAL_SUFFIX)
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600), temporary
        except FileExistsError:  # 2**32 names: a clash is rare, and the next try another name
            continue


def remove_partial_writes(*paths):
    """Remove the temporary files that interrupted writes of ``paths`` left beside them.

    :func:`atomic_write_bytes` cleans up after itself when it is interrupted by an
    exception; a process killed in the middle of a write cannot, and its caller
    removes the leftovers with this.

    Parameters
    ----------
    *paths : str or os.PathLike
        The targets that were being written (``"-"`` is passed over). Each directory
        is listed once, however many of them it holds.
    """
    prefixes = {}
    for path in map(str, paths):
        if path != "-":
            prefixes.setdefault(os.path.dirname(os.path.abspath(path)), set()).add(_partial_prefix(path))
    for directory, wanted in prefixes.items():
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            prefix = name[: len(name) - _PARTIAL_TOKEN_HEX - len(_PARTIAL_SUFFIX)]
            if prefix in wanted and _is_partial_of(name, prefix):
                try:
                    os.unlink(os.path.join(directory, name))
                except OSError:
                    pass


def atomic_write_bytes(path, data, *, overwrite=False):
    """Write bytes to a file so that it is either complete or absent.

    The bytes go to a temporary file beside the target, which is then renamed over
    it; an interrupted write leaves no partial file. ``"-"`` writes to standard output.

    Parameters
    ----------
    path : str or os.PathLike
        Target file, or ``"-"``.
    data : bytes
        Complete content.
    overwrite : bool, optional
        Replace an existing target.

    Raises
    ------
    OutputError
        The target exists without ``overwrite``, or the write fails.
    """
    path = str(path)
    if path == "-":
        _write_stdout(data)
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.lexists(path):
        raise OutputError("output exists; pass --overwrite to replace it", path)
    try:
        fd, temporary = _create_partial(path, directory)
    except OSError as e:
        if not os.path.isdir(directory):
            raise OutputError(f"output directory {directory} does not exist; create it first", path) from None
        raise OutputError(f"cannot write in {directory}: {e.strerror or e}; choose another output directory",
                          path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, _FILE_MODE)
        os.replace(temporary, path)
    except BaseException as e:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise OutputError(f"cannot write: {e.strerror or e}", path) from None
        raise


def check_stdout_open(advice="write to a file with -o FILE, or redirect it"):
    """Refuse standard output closed from the start (``>&-``), where printing loses its text silently.

    Parameters
    ----------
    advice : str, optional
        What the message says to do.

    Raises
    ------
    OutputError
        Standard output is closed.
    """
    if sys.stdout is None:
        raise OutputError(f"standard output is closed; {advice}")


def _write_stdout(data):
    check_stdout_open()
    try:
        # A large write goes straight to the pipe and may return a count short of the data
        # when the reader leaves; the next write then raises BrokenPipeError.
        rest = memoryview(data)
        while rest:
            written = sys.stdout.buffer.write(rest)
            if not written:
                raise BrokenPipeError
            rest = rest[written:]
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise OutputError(
            "standard output was closed by its reader (broken pipe); the image was not written whole"
        ) from None
    except (OSError, ValueError) as e:  # ValueError: the file object itself was closed
        reason = e.strerror if isinstance(e, OSError) and e.strerror else "it is closed"
        raise OutputError(f"cannot write to standard output: {reason}") from None


def write_image(path, image, *, bit_depth=None, fmt=None, overwrite=False, quality=95):
    """Write an image atomically, back in its source bit depth unless told otherwise.

    Parameters
    ----------
    path : str or os.PathLike
        Target file, or ``"-"`` for standard output.
    image : Image
        What to write.
    bit_depth : {8, 16, "float"}, optional
        See :func:`encode_image`.
    fmt : str, optional
        Format name (``png``, ``jpg``, ``tif``, ``bmp``, ``webp``); by default from
        the extension of ``path``, and PNG for standard output.
    overwrite : bool, optional
        Replace an existing file.
    quality : int, optional
        JPEG quality, an integer from 1 to 100.

    Returns
    -------
    None

    Raises
    ------
    InputError
        Pixels that are not grey or RGB of finite values, or an alpha of another size.
    ParameterError
        Unknown format, ``image`` not an :class:`Image`, a bit depth the format cannot
        hold, or a quality that is not an integer from 1 to 100.
    OutputError
        The file cannot be written.
    """
    extension = format_extension(path, fmt)
    if extension is None:
        if str(path) == "-":
            extension = ".png"
        else:
            raise ParameterError(
                f"cannot tell the format of {path!s} from its extension; "
                f"use one of {', '.join(sorted(set(FORMATS.values())))} or --format"
            )
    data = encode_image(image, extension, bit_depth=bit_depth, quality=quality)
    atomic_write_bytes(path, data, overwrite=overwrite)
