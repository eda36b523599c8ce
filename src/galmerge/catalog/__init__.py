"""Survey-scale prediction: merger probabilities to catalogs."""

from galmerge.catalog.backends import BACKENDS, make_backend, onnx_available
from galmerge.catalog.predict import CATALOG_FLAGS, predict, predict_catalog, predict_catalog_file, predict_proba, write_table

__all__ = ["BACKENDS", "CATALOG_FLAGS", "make_backend", "onnx_available", "predict", "predict_catalog", "predict_catalog_file", "predict_proba", "write_table"]
