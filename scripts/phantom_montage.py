"""Save a PNG montage of one phantom: axial, coronal and sagittal slices through the LA centre.

Each slice is shown twice: the image alone (to judge realism), and below it the same with
label contours (cavity red, wall blue, scar yellow, noisy-annotation noise magenta). Views:
through the LA centre, then axial through the superior and the inferior vein ostia and
coronal through the ostia. Slices are shown at
their physical aspect ratio: axial with anterior up and the patient's left on the right,
coronal and sagittal with superior up (sagittal: anterior on the left).

    python scripts/phantom_montage.py out.png --seed 3 --spacing 0.625 0.625 0.625
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from napari_c2w.phantom import generate_phantom

COLOURS = {"cavity": (230, 60, 60), "wall": (60, 170, 255), "scar": (255, 220, 40), "noise": (255, 60, 255)}


def _panel(image: np.ndarray, masks: dict, aspect: tuple[float, float], px_per_mm: float, window) -> tuple:
    """(plain, overlay) RGB PIL images of one 2D slice scaled to ``px_per_mm``."""
    h, w = image.shape
    size = (max(1, round(w * aspect[1] * px_per_mm)), max(1, round(h * aspect[0] * px_per_mm)))
    grey = np.clip((image - window[0]) / (window[1] - window[0]) * 255, 0, 255).astype(np.uint8)
    plain = Image.fromarray(grey).resize(size, Image.BILINEAR).convert("RGB")
    over = np.asarray(plain).copy()
    for name, mask in masks.items():
        big = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.NEAREST)) > 0
        edge = big & ~ndi.binary_erosion(big)
        over[edge] = COLOURS[name]
    return plain, Image.fromarray(over)


def montage(ph, px_per_mm: float = 2.0) -> Image.Image:
    """The montage image of phantom ``ph``.

    Panels: axial, coronal and sagittal through the LA centre, then axial through the
    superior and inferior vein ostia and coronal through the ostia (the veins and appendage).
    """
    img = ph.image.array
    sp, org = np.asarray(ph.image.spacing), np.asarray(ph.image.origin)
    shape = np.array(img.shape)

    def index(point) -> np.ndarray:
        return np.clip(np.round((np.asarray(point) - org) / sp).astype(int), 0, shape - 1)

    ostia = ph.meta["pv_ostia"]
    c = index(ph.meta["la_centre"])
    sup = index(np.mean([ostia["LSPV"], ostia["RSPV"]], axis=0))
    inf = index(np.mean([ostia["LIPV"], ostia["RIPV"]], axis=0))
    pv = index(np.mean(list(ostia.values()), axis=0))
    masks = {**ph.labels, "noise": ph.noise}
    window = (0.0, float(np.percentile(img, 99.7)))
    axial, coronal, sagittal = (sp[1], sp[2]), (sp[0], sp[2]), (sp[0], sp[1])
    views = [
        (lambda a: a[c[0]], axial),  # rows y (anterior up), cols x (patient left right)
        (lambda a: a[::-1, c[1], :], coronal),  # superior up
        (lambda a: a[::-1, :, c[2]], sagittal),  # superior up, anterior left
        (lambda a: a[sup[0]], axial),
        (lambda a: a[inf[0]], axial),
        (lambda a: a[::-1, pv[1], :], coronal),
    ]
    panels = [
        _panel(take(img), {k: take(m) for k, m in masks.items()}, asp, px_per_mm, window)
        for take, asp in views
    ]
    cols = 3
    cell_w = max(p[0].width for p in panels) + 10
    cell_h = max(p[0].height for p in panels) + 10
    rows = (len(panels) + cols - 1) // cols
    out = Image.new("RGB", (cols * cell_w, 2 * rows * cell_h + 18), (20, 20, 20))
    for i, (plain, over) in enumerate(panels):
        x, y = (i % cols) * cell_w, 18 + (i // cols) * 2 * cell_h
        out.paste(plain, (x, y))
        out.paste(over, (x, y + cell_h))
    meta = ph.meta
    ImageDraw.Draw(out).text(
        (4, 3),
        f"phantom seed {meta['seed']}  spacing {tuple(meta['spacing'])}  scale "
        f"{meta['scale']}  scar {meta['scar_fraction']:.0%}  noise sigma "
        f"{meta['noise_sigma']:.1f}  bias {meta['bias_strength']:.2f}   rows: image / "
        "labels (cavity red, wall blue, scar yellow, noise magenta)",
        fill=(230, 230, 230),
    )
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="PNG file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--shape", type=int, nargs=3, default=None, help="z y x (default: about 110x150x150 mm)"
    )
    parser.add_argument("--spacing", type=float, nargs=3, default=(0.625, 0.625, 0.625), help="z y x in mm")
    parser.add_argument("--px-per-mm", type=float, default=2.0)
    args = parser.parse_args(argv)
    ph = generate_phantom(args.seed, shape=args.shape, spacing=tuple(args.spacing))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    montage(ph, args.px_per_mm).save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
