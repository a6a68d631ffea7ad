"""napari widgets of napari-c2w (the only Qt code; compute lives in the other packages)."""
