"""Survey-scale prediction: merger probabilities to catalogs, cutouts from mosaics, ONNX export."""

from galmerge.catalog.backends import BACKENDS, make_backend, onnx_available
from galmerge.catalog.cutouts import CutoutSummary, MosaicCutter, cut_mosaics
from galmerge.catalog.export import export_onnx, read_onnx_metadata
from galmerge.catalog.predict import CATALOG_FLAGS, predict, predict_catalog, predict_catalog_file, predict_proba, write_table
from galmerge.catalog.stream import SURVEY_FLAGS, SurveyCatalog, predict_survey
from galmerge.catalog.uncertainty import FeatureDensity, shift_prior
from galmerge.catalog.writer import read_catalog

__all__ = [
    "BACKENDS",
    "CATALOG_FLAGS",
    "SURVEY_FLAGS",
    "CutoutSummary",
    "FeatureDensity",
    "MosaicCutter",
    "SurveyCatalog",
    "cut_mosaics",
    "export_onnx",
    "make_backend",
    "onnx_available",
    "predict",
    "predict_catalog",
    "predict_catalog_file",
    "predict_proba",
    "predict_survey",
    "read_catalog",
    "read_onnx_metadata",
    "shift_prior",
    "write_table",
]
