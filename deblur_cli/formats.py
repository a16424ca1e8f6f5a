"""Image formats the tool writes, and the pixel limit; no heavy imports, for option parsing."""

__all__ = ["DEFAULT_MAX_PIXELS", "FORMATS"]

DEFAULT_MAX_PIXELS = 200_000_000
"""Images with more pixels are refused unless the limit is raised (``--max-pixels``)."""

FORMATS = {
    "png": ".png",
    "jpg": ".jpg",
    "jpeg": ".jpg",
    "tif": ".tif",
    "tiff": ".tif",
    "bmp": ".bmp",
    "webp": ".webp",
}
"""Format names accepted by ``--format``, and the extension each one means."""
