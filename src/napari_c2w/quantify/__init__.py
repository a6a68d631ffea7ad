"""Quantification of a case (no napari, no Qt): volumes, wall thickness and scar burden.

**Scar burden** (the one definition, used by review, report, surface and the widgets) is the
share of the *scar region* that a scar method flags::

    burden = 100 · |scar ∩ R| / |R|        (%; NaN when R is empty)

* ``R``, the scar region (:meth:`.band.BandSpec.scar_region`), is the wall label's voxels that
  are not cavity; without a wall label, the non-cavity voxels within ``outer_mm`` (2.5 mm) of the
  cavity, the outer part of the wall band. Scar lies in the atrial wall (the progressive-learning
  paper's anatomical prior) and blood inside the cavity is never counted: the band's part inside
  the cavity (``inner_mm``) marks where scar is still *plausible* (annotations slip into it), not
  where it is counted.
* ``|·|`` counts voxels; on the endocardial surface it is the vertices' area (each vertex owns
  a third of its triangles), the area-weighted share CemrgApp reports.
* The scar is one method's (:mod:`.methods`: the network's scar label, IIR or mean + k·SD of the
  blood pool), so burdens and Dice of different methods share their region and compare.

Modules: :mod:`.band` (the :class:`BandSpec`), :mod:`.burden`, :mod:`.blood` (the blood pool),
:mod:`.methods` (the registry), :mod:`.scar` (one method's scar on the grid), :mod:`.thickness`
(wall thickness) and :mod:`.case` (per-case :class:`Quantities`).
"""

from .band import BandSpec
from .blood import ERODE_MM, BloodPool, blood_pool
from .burden import burden_pct, scar_agreement
from .case import Quantities, quantify
from .methods import (
    IIR_DENSE,
    IIR_FIBROSIS,
    METHODS,
    NETWORK_THRESHOLD,
    SD_K,
    Param,
    ScarMethod,
    check_methods,
    default_params,
    register,
    scar_method,
)
from .scar import MethodScar, method_scar
from .thickness import SMOOTH_MM, thickness_summary, wall_thickness

__all__ = [
    "ERODE_MM",
    "IIR_DENSE",
    "IIR_FIBROSIS",
    "METHODS",
    "NETWORK_THRESHOLD",
    "SD_K",
    "SMOOTH_MM",
    "BandSpec",
    "BloodPool",
    "MethodScar",
    "Param",
    "Quantities",
    "ScarMethod",
    "blood_pool",
    "burden_pct",
    "check_methods",
    "default_params",
    "method_scar",
    "quantify",
    "register",
    "scar_agreement",
    "scar_method",
    "thickness_summary",
    "wall_thickness",
]
