"""napari-c2w's own MONAI-style training transforms, for protocol shifts MONAI has no fitting
transform for (issue #11): thick slices and another contrast, tissue order included.

Each is a dictionary transform: the constructor takes the keys and settings, ``randomize``
draws the parameters from the transform's own random state (``set_random_state``), and
``__call__`` takes the data dictionary. Used by :func:`napari_c2w.train.augment.build_augment`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.transforms import IntensityRemap, MapTransform, RandomizableTransform


class RandThickSlicesd(RandomizableTransform, MapTransform):
    """Simulate a thick-slice acquisition on the image keys.

    Averages slabs of ``factor`` slices along z (a factor drawn from ``factor_range``) and
    interpolates back to the grid, as a 2.5-5 mm slice resampled to the model's spacing looks.

    Args:
        keys: the image keys (channel-first ``(C, z, y, x)`` arrays).
        factor_range: the range the slab thickness is drawn from, in slices (1: no change).
        prob: the probability of transforming a sample.
    """

    def __init__(
        self, keys: Hashable | Sequence[Hashable], factor_range: tuple[float, float], prob: float = 0.1
    ) -> None:
        MapTransform.__init__(self, keys)
        RandomizableTransform.__init__(self, prob)
        self.factor_range = factor_range
        self.factor = 1.0

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        self.factor = float(self.R.uniform(*self.factor_range))

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        self.randomize()
        d = dict(data)
        if not self._do_transform or self.factor <= 1.0:
            return d
        for key in self.key_iterator(d):
            x = torch.as_tensor(np.asarray(d[key]), dtype=torch.float32)
            slabs = max(1, round(x.shape[1] / self.factor))
            down = torch.nn.functional.interpolate(x[None], size=(slabs, *x.shape[2:]), mode="area")
            d[key] = torch.nn.functional.interpolate(down, size=x.shape[1:], mode="trilinear")[0].numpy()
        return d


class RandContrastRemapd(RandomizableTransform, MapTransform):
    """Another contrast, tissue order included, on the image keys.

    Intensities between the 0.5th and 99.5th percentiles pass through MONAI's
    :class:`~monai.transforms.IntensityRemap` curve (smoothed random values plus a linear part;
    Hesse et al. 2020), drawn over ``levels`` grey levels with a window of ``kernel`` levels and
    a ``slope``, and the image is interpolated through it at full precision. MONAI's own
    ``RandIntensityRemap`` draws its curve over every distinct value of the image; on a z-scored
    float patch (587k distinct values) inputs within 0.02 of each other then spread over 69 % of
    the output's standard deviation (it acts as noise, and takes 0.38 s against 0.04 s here,
    where they spread over 3 %).

    Args:
        keys: the image keys.
        kernel: the range the curve's smoothing window is drawn from, in grey levels.
        slope: the range the curve's linear part is drawn from.
        levels: the grey levels the curve is drawn over.
        prob: the probability of transforming a sample.
    """

    def __init__(
        self,
        keys: Hashable | Sequence[Hashable],
        kernel: Sequence[int],
        slope: Sequence[float],
        levels: int = 100,
        prob: float = 0.1,
    ) -> None:
        MapTransform.__init__(self, keys)
        RandomizableTransform.__init__(self, prob)
        self.kernel, self.slope = kernel, slope
        self.grid = np.linspace(0.0, 1.0, levels)  # the grey levels, and the identity curve
        self.curve = self.grid

    def randomize(self, data: Any = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        remap = IntensityRemap(
            kernel_size=int(self.R.randint(self.kernel[0], self.kernel[1] + 1)),
            slope=float(self.R.uniform(*self.slope)),
        )
        remap.set_random_state(seed=int(self.R.randint(2**31)))
        self.curve = np.asarray(remap(torch.from_numpy(self.grid)), np.float64)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        self.randomize()
        d = dict(data)
        if not self._do_transform:
            return d
        for key in self.key_iterator(d):
            x = np.asarray(d[key], np.float32)
            lo, hi = np.percentile(x, [0.5, 99.5])
            if hi <= lo:
                continue
            u = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
            y = np.interp(u, self.grid, self.curve)
            d[key] = (lo + y * (hi - lo)).astype(np.float32)
        return d
