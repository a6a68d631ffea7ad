"""The registry of scar methods: each method is one :class:`ScarMethod` entry in :data:`METHODS`.

A method flags scar among values sampled where scar is looked for: the voxels of the scar
region (:meth:`.band.BandSpec.scar_region`) or the vertices of the endocardial surface (the
maxima projected along the normals, :mod:`napari_c2w.surface.project`). The same rule serves
both, so the voxel burden, the surface burden, the report's columns, the CLI's
``--scar-method`` choices and options and the widgets' choices all come from here.

* **network**: the network's scar (the scar label; on the surface its projection, ≥ 0.5).
* **iir** (image intensity ratio; Benito et al. 2017, CemrgApp): ``I(x) / mean(blood pool) >
  iir``; 1.20 is fibrosis, 1.32 dense scar.
* **sd** (Utah-style): ``I(x) > mean + k·SD`` of the blood pool, ``k`` typically 2-4.

Adding a method is one :func:`register` call with its rule (here, or in any module imported
before the consumers build their choices).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .blood import BloodPool

#: Where a method reads its values: the image (relative to the blood pool) or the network's scar.
SOURCES = ("image", "network")
NETWORK_THRESHOLD = 0.5
IIR_FIBROSIS = 1.20
IIR_DENSE = 1.32
SD_K = 3.0


@dataclasses.dataclass(frozen=True)
class Param:
    """A numeric parameter of a scar method (a keyword, a CLI option ``--name``, a spin box).

    Attributes:
        name: keyword name, unique over all methods (``sd_k`` is the CLI's ``--sd-k``).
        label: its label in the widgets.
        default: default value.
        minimum, maximum, step: the widgets' range and step.
        help: the CLI's help text.
    """

    name: str
    label: str
    default: float
    minimum: float
    maximum: float
    step: float
    help: str = ""


#: ``rule(values, blood, **params)`` -> boolean scar flags of the values.
Rule = Callable[..., np.ndarray]


@dataclasses.dataclass(frozen=True)
class ScarMethod:
    """One scar method of the registry.

    Attributes:
        name: its id (``--scar-method NAME``, report columns ``scar_burden_<name>_pct``).
        label: its name in the widgets.
        source: ``"image"`` (needs the image and the cavity's blood pool) or ``"network"``
            (needs the network's scar).
        rule: ``rule(values, blood, **params)`` -> boolean flags; ``blood`` is None for the
            ``"network"`` source.
        params: its parameters.
        help: one line for the CLI's help.
    """

    name: str
    label: str
    source: str
    rule: Rule
    params: tuple[Param, ...] = ()
    help: str = ""

    def flag(
        self, values: np.ndarray, blood: BloodPool | None = None, params: Mapping[str, float] | None = None
    ) -> np.ndarray:
        """Boolean scar flags of ``values`` (missing ``params`` take their defaults)."""
        params = params or {}
        kwargs = {p.name: float(params.get(p.name, p.default)) for p in self.params}
        return np.asarray(self.rule(np.asarray(values), blood, **kwargs), dtype=bool)


#: The registered methods by name, in the order they are offered.
METHODS: dict[str, ScarMethod] = {}


def register(method: ScarMethod) -> ScarMethod:
    """Add ``method`` to :data:`METHODS` (its name and parameter names must be new)."""
    if method.name in METHODS:
        raise ValueError(f"a scar method named {method.name!r} is already registered")
    if method.source not in SOURCES:
        raise ValueError(f"a scar method's source is one of {SOURCES}, not {method.source!r}")
    taken = {p.name for p in all_params()}
    clash = [p.name for p in method.params if p.name in taken]
    if clash:
        raise ValueError(f"parameter name(s) {', '.join(clash)} of {method.name!r} are already in use")
    METHODS[method.name] = method
    return method


def scar_method(name: str) -> ScarMethod:
    """The registered method ``name``."""
    if name not in METHODS:
        raise ValueError(f"unknown scar method {name!r}; choose from {', '.join(METHODS)}")
    return METHODS[name]


def check_methods(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` without repeats, each checked against :data:`METHODS`."""
    bad = [m for m in names if m not in METHODS]
    if bad:
        raise ValueError(f"unknown scar method(s) {', '.join(bad)}; choose from {', '.join(METHODS)}")
    return tuple(dict.fromkeys(names))


def all_params() -> list[Param]:
    """The parameters of every registered method, in registry order."""
    return [p for m in METHODS.values() for p in m.params]


def default_params() -> dict[str, float]:
    """Every registered parameter at its default."""
    return {p.name: p.default for p in all_params()}


def _network(values: np.ndarray, blood: BloodPool | None) -> np.ndarray:
    return values >= NETWORK_THRESHOLD


def _iir(values: np.ndarray, blood: BloodPool, iir: float) -> np.ndarray:
    if iir <= 0:
        raise ValueError(f"the IIR threshold must be > 0, not {iir}")
    return values > iir * blood.mean


def _sd(values: np.ndarray, blood: BloodPool, sd_k: float) -> np.ndarray:
    return values > blood.mean + sd_k * blood.sd


register(ScarMethod("network", "network", "network", _network, help="the scar label"))
register(
    ScarMethod(
        "iir",
        "IIR",
        "image",
        _iir,
        (
            Param(
                "iir",
                "IIR threshold",
                IIR_FIBROSIS,
                0.5,
                3.0,
                0.02,
                "IIR threshold (1.20 fibrosis, 1.32 dense)",
            ),
        ),
        help="image intensity ratio to the blood pool",
    )
)
register(
    ScarMethod(
        "sd",
        "mean + k SD",
        "image",
        _sd,
        (Param("sd_k", "k (SD)", SD_K, 0.0, 10.0, 0.5, "k of mean + k SD (default 3)"),),
        help="blood-pool mean + k SD",
    )
)
