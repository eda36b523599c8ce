"""The realism layer: cosmology, resampling, PSFs, noise, field sources, real fields, colour pictures."""

from galmerge.mocks.realism.background import add_field_sources, expected_counts
from galmerge.mocks.realism.display import LuptonMapping, colour_picture, to_colour_jpeg
from galmerge.mocks.realism.field import FieldImage, insert_into_field
from galmerge.mocks.realism.noise import (
    add_noise,
    box_noise_factor,
    correlated_gaussian_noise,
    depth_from_sky_sigma,
    measure_depth,
    sky_sigma_from_depth,
)
from galmerge.mocks.realism.observe import ObservedStamp, Observer, convolve_bands, observe, observe_fits
from galmerge.mocks.realism.psf import AiryGaussianPSF, GaussianPSF, ImagePSF, MoffatPSF, convolve, psf_from_spec
from galmerge.mocks.realism.resample import resample_flux
from galmerge.mocks.realism.sky import SkyBank

__all__ = [
    "AiryGaussianPSF", "FieldImage", "GaussianPSF", "ImagePSF", "LuptonMapping", "MoffatPSF", "ObservedStamp", "Observer", "SkyBank", "convolve_bands",
    "add_field_sources", "add_noise", "box_noise_factor", "colour_picture", "convolve", "correlated_gaussian_noise",
    "depth_from_sky_sigma", "expected_counts", "insert_into_field", "measure_depth", "observe", "observe_fits",
    "psf_from_spec", "resample_flux", "sky_sigma_from_depth", "to_colour_jpeg",
]
