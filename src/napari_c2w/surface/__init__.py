"""Scar and wall on the atrial surface (no napari, no Qt).

Intensity scar by the clinical thresholds (:mod:`.scar_intensity`: IIR and mean + k·SD of
the blood pool), the endocardial mesh (:mod:`.mesh`), CemrgApp-style projection of volumes
onto it (:mod:`.project`), a nine-region parcellation (:mod:`.regions`), the surface map of
a case in one call (:mod:`.build`) and its export to VTK/PLY/CSV (:mod:`.export`).
"""

from .build import POINT_ARRAYS, SurfaceMap, build_surface, case_surface
from .export import FORMATS, export_case_surface, write_surface
from .mesh import Mesh, endocardial_mesh, to_patient
from .project import project_max
from .regions import REGIONS, parcellate
from .scar_intensity import (
    IIR_DENSE,
    IIR_FIBROSIS,
    METHODS,
    SD_K,
    BloodPool,
    IntensityScar,
    blood_pool,
    intensity_scar,
    scar_agreement,
)

__all__ = [
    "FORMATS",
    "IIR_DENSE",
    "IIR_FIBROSIS",
    "METHODS",
    "POINT_ARRAYS",
    "REGIONS",
    "SD_K",
    "BloodPool",
    "IntensityScar",
    "Mesh",
    "SurfaceMap",
    "blood_pool",
    "build_surface",
    "case_surface",
    "endocardial_mesh",
    "export_case_surface",
    "intensity_scar",
    "parcellate",
    "project_max",
    "scar_agreement",
    "to_patient",
    "write_surface",
]
