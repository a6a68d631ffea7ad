"""npe2 sample data: a synthetic LGE phantom with its cavity, wall and scar labels."""

from __future__ import annotations


def lge_phantom() -> list[tuple]:
    """A phantom at 1.25 x 0.625 x 0.625 mm (seed 7) with its true labels."""
    from ._session import first_use
    from .layers import case_layers
    from .phantom import SPACINGS, generate_phantom

    first_use()
    return case_layers(generate_phantom(seed=7, spacing=SPACINGS["1.25"]).to_case())


def lge_phantom_noisy() -> list[tuple]:
    """The same phantom with a LAScarQS-style noisy scar annotation to review."""
    from ._session import first_use
    from .layers import case_layers
    from .phantom import SPACINGS, generate_phantom

    first_use()
    return case_layers(generate_phantom(seed=7, spacing=SPACINGS["1.25"]).to_case(noisy=True))
