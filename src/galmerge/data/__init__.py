"""Images in and out of galmerge: the ImageSet, its loaders, splits and preprocessing."""

from galmerge.data.files import load_catalog_csv, load_directory, load_files
from galmerge.data.fits import read_fits_cutout
from galmerge.data.imageset import ImageSet, concatenate, validate_binary_labels
from galmerge.data.masks import MASK_BITS
from galmerge.data.nonfinite import fill_nonfinite
from galmerge.data.npy import load_npy
from galmerge.data.pictures import read_picture
from galmerge.data.sources import as_imageset, load_imageset
from galmerge.data.splits import Split, stratified_split
from galmerge.data.toy import make_toy_mergers

_TORCH_NAMES = ("Preprocessor", "crop_and_resize", "dihedral_element", "random_dihedral")


def __getattr__(name: str):
    """The torch-based preprocessing, imported on first use: making or reading mocks needs no torch
    (importing it costs about 2 s a process)."""
    if name in _TORCH_NAMES:
        from galmerge.data import transforms

        return getattr(transforms, name)
    raise AttributeError(f"module 'galmerge.data' has no attribute {name!r}")


__all__ = [
    "ImageSet",
    "MASK_BITS",
    "Preprocessor",
    "Split",
    "concatenate",
    "crop_and_resize",
    "dihedral_element",
    "fill_nonfinite",
    "load_catalog_csv",
    "load_directory",
    "load_files",
    "as_imageset",
    "load_imageset",
    "load_npy",
    "make_toy_mergers",
    "random_dihedral",
    "read_fits_cutout",
    "read_picture",
    "stratified_split",
    "validate_binary_labels",
]
