"""deblur: Wiener deblurring, PSF estimation, resampling and quality reports.

The public functions are re-exported here and imported on first use, so that
importing the package (and starting the command-line tool) stays fast.
"""

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Image": "images",
    "read_image": "images",
    "write_image": "images",
    "motion": "psf",
    "defocus": "psf",
    "gaussian": "psf",
    "load_psf": "psf",
    "psf2otf": "psf",
    "blur": "forward",
    "extend": "boundary",
    "wiener": "deconv",
    "noise_sigma": "estimate",
    "gcv_nsr": "estimate",
    "estimate_blur": "estimate",
    "estimate_psf": "estimate",
    "resize_bilinear": "resample",
    "conv_transpose2d": "resample",
    "bilinear_kernel": "resample",
    "downsample": "resample",
    "psnr": "metrics",
    "ssim": "metrics",
    "quality": "metrics",
    "DeblurError": "errors",
    "ParameterError": "errors",
    "InputError": "errors",
    "OutputError": "errors",
    "CheckFailed": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
