"""Correct a label from a few prompts, and propose the wall from a correct cavity (Qt-free).

- :mod:`.prompts`: positive and negative clicks, scribbles and boxes;
- :mod:`.refine`: one prompt's local 3D correction (:func:`refine`);
- :mod:`.wall`: the wall grown outward from the cavity (:func:`propose_wall`);
- :mod:`.session`: prompts applied one after another with undo and provenance.
"""

from .prompts import KINDS, Prompt
from .refine import METHODS, Refined, RefineOptions, refine
from .wall import WallOptions, propose_wall

__all__ = ["KINDS", "METHODS", "Prompt", "RefineOptions", "Refined", "WallOptions", "propose_wall", "refine"]
