"""Ground-truth pixel masks of an ImageSet: a bit field per pixel, and what each bit means."""

from __future__ import annotations

__all__ = ["MASK_BITS"]

# Bit -> feature for ``ImageSet.masks`` (uint8, one per pixel). Mocks set them from the light of
# each component; interpretation scores attributions against them; montages outline them.
MASK_BITS = {"tidal": 1, "companion": 2}
