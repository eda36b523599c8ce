"""The framing rule every mock follows, whatever its class: field of view and centre.

Galaxy Zoo's SDSS cutouts are scaled to each object's Petrosian R90 and centred on the
catalogue position of the object (for a pair, the deblended galaxy that was targeted). galmerge
frames a mock the same way for both classes: the pixel scale comes from the Petrosian R90 of the
*central galaxy* as if it stood alone (the primary of a merger, the galaxy itself otherwise),
measured where the recipe says so (``seeing_blurred_r90``) on that galaxy blurred by the
survey's PSF, as SDSS's catalogue measures it (:class:`SeeingBlur`); the stamp centre is that
galaxy's light moved by one random offset drawn from one distribution for every stamp
(:func:`centre_offset_px`). The light's centre is its peak after
smoothing by the PSF, as SDSS finds it (:func:`light_peak_px`): the nucleus of one galaxy, and
for a nucleus with a second one closer than the seeing the peak of their blended light. Framing
on the nucleus itself had put the light of close mergers off centre, and of nothing else.

The Petrosian radius follows SDSS: the radius where the surface brightness in an annulus of
0.8-1.25 r is 0.2 times the mean inside r; the Petrosian flux is the light within twice that
radius, and R90 the radius holding 90 % of it (Blanton et al. 2001; Stoughton et al. 2002).
"""

from __future__ import annotations

import numpy as np

__all__ = ["enclosed_light", "petrosian_r90_kpc", "petrosian_radius_kpc", "SeeingBlur", "centre_offset_px", "light_peak_px", "PETROSIAN_RATIO"]

PETROSIAN_RATIO = 0.2
SEEING_REACH_FWHM = 20.0  # galaxies of larger intrinsic R90 (in PSF FWHM) keep it under seeing
# radii in units of the galaxy's largest scale (0.01-90), on a geometric grid where 0.8 r and
# 1.25 r are grid points too, six steps away: the annulus needs no further evaluation of the profile
_ANNULUS_STEPS = 6
_GRID = 1.25 ** (np.arange(-127, 128) / _ANNULUS_STEPS)


def _sersic_enclosed(radius, half_light, n):
    from scipy.special import gammainc

    from galmerge.mocks.light import sersic_b

    return gammainc(2 * n, sersic_b(n) * (radius / half_light) ** (1 / n))


def enclosed_light(look, radius_kpc) -> np.ndarray:
    """Share of a galaxy's light inside circles of ``radius_kpc`` (face-on, circularised).

    ``look`` is a :class:`~galmerge.mocks.systems.GalaxyLook`: a Sersic bulge, an exponential
    disk (bars and clumps counted with it) and a de Vaucouleurs halo.
    """
    radius = np.asarray(radius_kpc, dtype=np.float64)
    disk_share = max(1.0 - look.bulge_fraction - look.halo_fraction, 0.0)
    light = disk_share * (1.0 - (1.0 + radius / look.disk_kpc) * np.exp(-radius / look.disk_kpc))
    if look.bulge_fraction > 0:
        light = light + look.bulge_fraction * _sersic_enclosed(radius, max(look.bulge_kpc, 1e-3), float(np.clip(look.bulge_n, 0.3, 8.0)))
    if look.halo_fraction > 0:
        light = light + look.halo_fraction * _sersic_enclosed(radius, look.halo_kpc, 4.0)
    return light


def petrosian_r90_kpc(look) -> float:
    """SDSS's Petrosian R90 of the galaxy, in kpc."""
    return petrosian_radius_kpc(look, fraction=0.9)


def petrosian_radius_kpc(look, *, fraction: float) -> float:
    """Radius holding ``fraction`` of the galaxy's Petrosian flux, in kpc (SDSS's R50 for 0.5)."""
    scale = max(look.disk_kpc, look.bulge_kpc if look.bulge_fraction > 0 else 0.0)
    radii = _GRID * scale
    return _petrosian_radius(radii, enclosed_light(look, radii), fraction, lambda radius: float(enclosed_light(look, radius)))


def _petrosian_radius(radii: np.ndarray, every: np.ndarray, fraction: float, light_within) -> float:
    """The Petrosian radius holding ``fraction`` of the Petrosian flux, from the enclosed light
    ``every`` on the geometric grid ``radii`` (:data:`_GRID` times a scale); ``light_within(r)``
    gives the light inside r for the Petrosian flux."""
    radii, light = radii[_ANNULUS_STEPS:-_ANNULUS_STEPS], every[_ANNULUS_STEPS:-_ANNULUS_STEPS]
    outer, inner = every[2 * _ANNULUS_STEPS :], every[: -2 * _ANNULUS_STEPS]
    annulus = outer - inner
    ratio = annulus / (1.25**2 - 0.8**2) / np.maximum(light, 1e-300)
    beyond = np.flatnonzero(ratio < PETROSIAN_RATIO)
    if not len(beyond):
        petrosian = radii[-1]
    elif beyond[0] == 0:
        petrosian = radii[0]
    else:  # where the ratio crosses PETROSIAN_RATIO, linear in log radius
        k = beyond[0]
        petrosian = float(np.exp(np.interp(PETROSIAN_RATIO, ratio[[k, k - 1]], np.log(radii[[k, k - 1]]))))
    flux = light_within(2.0 * petrosian)
    return float(np.interp(fraction * flux, light, radii))


class SeeingBlur:
    """How a PSF blurs the enclosed light of a round galaxy, for radii measured as a survey
    measures them, on its seeing-blurred images.

    The galaxy's light is cut into thin rings between the radii of :data:`_GRID` (in units of the
    PSF's FWHM) and a point at the centre. Blurred, a ring of radius rho puts the share

        A(R, rho) = int_0^inf 2 pi R J1(2 pi k R) J0(2 pi k rho) P(k) dk

    of its light inside radius R, with P(k) the PSF's Hankel transform (its radial profile's;
    A(R, 0) is the PSF's encircled energy). ``A`` is computed once per PSF for rings and radii
    within 30 FWHM; beyond, where the blur is a small fraction of a ring's radius, a ring counts
    wholly inside R or outside it. Written here because no library we use measures Petrosian
    radii of blurred analytic profiles; the tests check it against radii measured on rendered,
    blurred images.
    """

    def __init__(self, psf, *, reach_fwhm: float = 30.0):
        from scipy.special import j0, j1

        self.fwhm_arcsec = float(psf.fwhm_arcsec)
        # the PSF's radial profile, from its image at an eighth of its FWHM, out to 10 FWHM
        image = psf.image(pixel_scale_arcsec=self.fwhm_arcsec / 8, size=161)
        y, x = np.mgrid[:161, :161] - 80
        radius = np.hypot(x, y).ravel() / 8  # in FWHM
        bins = np.round(radius / 0.05).astype(np.int64)
        mass = np.bincount(bins, weights=image.ravel())
        kept = mass > 0
        profile_radius = np.bincount(bins, weights=image.ravel() * radius)[kept] / mass[kept]
        mass = mass[kept] / mass[kept].sum()
        # the Hankel transform on wavenumbers (per FWHM) fine enough for radii R + rho up to twice the reach
        dk = 1.0 / (24 * reach_fwhm)
        k = (np.arange(int(4.0 / dk)) + 0.5) * dk
        transform = j0(2 * np.pi * np.outer(k, profile_radius)) @ mass
        rho = np.concatenate([[0.0], np.sqrt(_GRID[:-1] * _GRID[1:])])
        self.transfer = (rho[None, :] < _GRID[:, None]).astype(np.float64)
        rows, columns = np.flatnonzero(_GRID <= reach_fwhm), np.flatnonzero(rho <= reach_fwhm)
        ring_in_circle = (2 * np.pi * _GRID[rows, None] * j1(2 * np.pi * _GRID[rows, None] * k[None, :])) @ ((transform * dk)[:, None] * j0(2 * np.pi * np.outer(k, rho[columns])))
        self.transfer[np.ix_(rows, columns)] = np.clip(ring_in_circle, 0.0, 1.0)

    def blur(self, enclosed: np.ndarray) -> np.ndarray:
        """The enclosed light on :data:`_GRID` x FWHM after the blur, from that before it."""
        return self.transfer @ np.diff(enclosed, prepend=0.0)

    def petrosian_r90_kpc(self, look, *, kpc_per_arcsec: float = 1.0, intrinsic_kpc: float | None = None) -> float:
        """The galaxy's Petrosian R90 in kpc measured on it as the survey saw it, blurred by this
        PSF, as SDSS measures its catalogue radii (``kpc_per_arcsec`` at its redshift).

        ``intrinsic_kpc``, its unblurred R90 (:func:`petrosian_r90_kpc`), saves computing it
        again. A galaxy whose intrinsic R90 exceeds :data:`SEEING_REACH_FWHM` PSF widths keeps
        it: the blur would move it by about 1 % or less.
        """
        intrinsic = petrosian_r90_kpc(look) if intrinsic_kpc is None else intrinsic_kpc
        if intrinsic > SEEING_REACH_FWHM * self.fwhm_arcsec * kpc_per_arcsec:
            return intrinsic
        radii = _GRID * self.fwhm_arcsec * kpc_per_arcsec
        blurred = self.blur(enclosed_light(look, radii))
        return _petrosian_radius(radii, blurred, 0.9, lambda radius: float(np.interp(np.log(radius), np.log(radii), blurred)))


def centre_offset_px(rng: np.random.Generator, framing) -> np.ndarray:
    """Offset (x, y) of the central galaxy's nucleus from the stamp centre, in output pixels."""
    offset = np.asarray(framing.centre_shift_px, dtype=np.float64) + rng.uniform(-framing.centre_jitter_px, framing.centre_jitter_px, 2)
    if framing.centre_scatter_px > 0:
        offset = offset + rng.normal(0.0, framing.centre_scatter_px, 2)
    return offset


def light_peak_px(smoothed: np.ndarray, start_xy) -> np.ndarray:
    """Peak (x, y) in pixels (column, row) of smoothed light that the light climbs to from
    ``start_xy``, refined to a fraction of a pixel by a parabola through it and its neighbours in
    each direction.

    SDSS's pipeline centres an object so, on its image smoothed by the PSF (Stoughton et al.
    2002; Pier et al. 2003): for one galaxy the peak is its centre; for two nuclei closer than
    the seeing it is the peak of their blended light.
    """
    height, width = smoothed.shape
    y, x = (int(np.clip(round(v), 1, n - 2)) for v, n in ((start_xy[1], height), (start_xy[0], width)))
    for _ in range(height + width):  # each step climbs, so this ends well before
        window = smoothed[y - 1 : y + 2, x - 1 : x + 2]
        dy, dx = np.unravel_index(int(np.argmax(window)), (3, 3))
        if (dy, dx) == (1, 1) or not (1 <= y + dy - 1 <= height - 2 and 1 <= x + dx - 1 <= width - 2):
            break
        y, x = y + dy - 1, x + dx - 1

    def vertex(minus, middle, plus):
        curvature = minus - 2 * middle + plus
        return 0.0 if curvature >= 0 else float(np.clip(0.5 * (minus - plus) / curvature, -0.5, 0.5))

    return np.array([x + vertex(*smoothed[y, x - 1 : x + 2]), y + vertex(*smoothed[y - 1 : y + 2, x])])
