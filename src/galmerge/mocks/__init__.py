"""Mock merging and non-merging galaxies with observational realism.

- :mod:`~galmerge.mocks.encounters`: restricted three-body encounters (Toomre & Toomre 1972).
- :mod:`~galmerge.mocks.systems` and :mod:`~galmerge.mocks.light`: mergers and non-mergers drawn
  through one rendering path.
- :mod:`~galmerge.mocks.realism`: RealSim-style observation (cosmology, resampling, PSF, noise,
  field sources, real fields, survey colour JPEGs), usable on images from any simulation.
- :mod:`~galmerge.mocks.recipes`: survey recipes in TOML.
- :func:`generate_mocks`: labelled sets with ground-truth masks, both classes framed and
  observed alike; :mod:`~galmerge.mocks.audit`: the shortcut audit;
  :mod:`~galmerge.mocks.calibrate`: fitting a recipe to a real survey's pictures.
"""

from galmerge.data.masks import MASK_BITS
from galmerge.mocks.generate import MockOptions, generate_mocks
from galmerge.mocks.realism import observe, observe_fits
from galmerge.mocks.recipes import Recipe, available_recipes, load_recipe

__all__ = ["MASK_BITS", "MockOptions", "Recipe", "available_recipes", "generate_mocks", "load_recipe", "observe", "observe_fits"]
