"""Scar and wall on the atrial surface (no napari, no Qt).

The endocardial mesh (:mod:`.mesh`), CemrgApp-style projection of volumes onto it
(:mod:`.project`), a nine-region parcellation (:mod:`.regions`), the surface map of a case in one
call (:mod:`.build`: every scar method of :data:`napari_c2w.quantify.METHODS` on the surface) and
its export to VTK/PLY/CSV (:mod:`.export`). The scar methods, the blood pool and the burden live
in :mod:`napari_c2w.quantify`.
"""

from .build import SurfaceMap, build_surface, case_surface, point_arrays
from .export import FORMATS, export_case_surface, write_surface
from .mesh import Mesh, endocardial_mesh, to_patient
from .project import project_max
from .regions import REGIONS, parcellate

__all__ = [
    "FORMATS",
    "REGIONS",
    "Mesh",
    "SurfaceMap",
    "build_surface",
    "case_surface",
    "endocardial_mesh",
    "export_case_surface",
    "parcellate",
    "point_arrays",
    "project_max",
    "to_patient",
    "write_surface",
]
