"""Training of the staged models (pure torch + MONAI; no Qt). See :func:`train`."""

from .config import TrainConfig, default_config, load_config

__all__ = ["TrainConfig", "default_config", "load_config", "train"]


def __getattr__(name: str):
    if name == "train":
        from .api import train

        return train
    raise AttributeError(name)
