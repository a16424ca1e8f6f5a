"""Names of the library's choices, light enough to import while parsing options.

The library validates against these tuples and the command line offers them, so the
two cannot drift apart. Each lists its default first.
"""

__all__ = ["REGULARISERS", "BOUNDARY_MODES", "BLUR_KINDS", "DOWNSAMPLE_METHODS", "PSF_CENTERS", "QUALITY_CHANNELS"]

REGULARISERS = ("identity", "laplacian")
"""Regulariser R of the Wiener filter (:func:`.deconv.wiener`)."""

BOUNDARY_MODES = ("reflect", "periodic", "edgetaper")
"""Boundary handling of deconvolution (:func:`.boundary.extend`)."""

BLUR_KINDS = ("motion", "defocus", "gaussian")
"""Kinds of blur the estimator tells apart (:func:`.estimate.estimate_blur`)."""

DOWNSAMPLE_METHODS = ("area", "max", "bilinear")
"""Methods of :func:`.resample.downsample`."""

PSF_CENTERS = ("none", "centroid")
"""Recentring of a PSF read from a file (:func:`.psf.load_psf`)."""

QUALITY_CHANNELS = ("all", "y")
"""Channels that quality is measured on (:func:`.metrics.quality`)."""
