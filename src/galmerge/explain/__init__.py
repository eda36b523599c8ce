"""Interpretation of merger CNNs, built on captum: what the layers respond to, where the network
looks, which concepts it uses, whether those explanations survive sanity checks, and whether
they fall on the tidal features and companions that mocks know the positions of.

- activations: :func:`layer_activations`, :func:`dead_filters`
- saliency: :func:`saliency`, :func:`smoothgrad`, :func:`integrated_gradients` (baselines
  :func:`make_baseline`), :func:`grad_cam`; by name: :func:`attribution_maps`
- TCAV: :class:`Concept`, :class:`ConceptActivationVector`, :func:`tcav`,
  :func:`concepts_from_metadata`, :func:`load_concept_folder`
- sanity checks: :func:`randomisation_check`
- scored against truth: :func:`mask_scores`
- a whole run: :func:`explain_run` (``galmerge explain``)

Every function works on an :class:`InspectableModel` (a trained galmerge network) or on any
``nn.Module`` that returns one tensor.
"""

from galmerge.explain.activations import DeadFilterReport, dead_filters, layer_activations
from galmerge.explain.concepts import concepts_from_metadata, load_concept_folder
from galmerge.explain.gradcam import grad_cam
from galmerge.explain.localisation import MaskScores, mask_scores
from galmerge.explain.methods import ATTRIBUTION_METHODS, attribution_maps
from galmerge.explain.network import InspectableModel
from galmerge.explain.run import EXPLAIN_METHODS, explain_run
from galmerge.explain.saliency import BASELINES, combine_bands, integrated_gradients, make_baseline, saliency, smoothgrad
from galmerge.explain.sanity import RandomisationCheck, layer_groups, map_similarity, randomisation_check, rank_correlation, structural_similarity
from galmerge.explain.tcav import Concept, ConceptActivationVector, TCAVScore, holm_correction, tcav

__all__ = [
    "ATTRIBUTION_METHODS",
    "BASELINES",
    "Concept",
    "ConceptActivationVector",
    "DeadFilterReport",
    "EXPLAIN_METHODS",
    "InspectableModel",
    "MaskScores",
    "RandomisationCheck",
    "TCAVScore",
    "attribution_maps",
    "combine_bands",
    "concepts_from_metadata",
    "dead_filters",
    "explain_run",
    "grad_cam",
    "holm_correction",
    "integrated_gradients",
    "layer_activations",
    "layer_groups",
    "load_concept_folder",
    "make_baseline",
    "map_similarity",
    "mask_scores",
    "randomisation_check",
    "rank_correlation",
    "saliency",
    "smoothgrad",
    "structural_similarity",
    "tcav",
]
