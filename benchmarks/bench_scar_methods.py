"""Benchmark: network scar vs the clinical intensity thresholds (IIR, mean + k·SD), and surface speed.

Three parts, each optional:

* ``phantoms``: on phantoms with known scar, for each slice thickness and added noise
  level, Dice (within the true wall) and burden error (method minus truth, percentage
  points of the true wall) of IIR > 1.20, IIR > 1.32, mean + 2·SD, mean + 3·SD and, with
  ``--network``, the bundled models' scar. Extra noise is Rician with sigma = level x
  the blood-pool mean, added to the phantom's own acquisition noise (level 0).
* ``la2018``: on real 2018-challenge cases (``--data``), the scar burden (% of the wall)
  of each method. The wall is the bundled models' predicted wall (cached under
  ``--cache``, one inference per case with the threads given) and, for the intensity
  methods, also the wall band around the expert cavity (2.5 mm out), for comparison.
* ``timing``: mesh + projection for a real case placed in a full 88 x 576 x 576 volume
  (median of ``--repeats``), with peak memory (tracemalloc) and, as the baseline measured
  in the same run, the plain approach: marching cubes on the whole uncropped volume at full
  resolution without smoothing, projected the same way.

    OMP_NUM_THREADS=1 python benchmarks/bench_scar_methods.py [--parts phantoms la2018 timing]
        [--seeds 0 1] [--spacings 1.25 2.5] [--noise 0 0.05 0.1 0.2] [--network]
        [--data ../shared/data/la2018/train] [--cases 10] [--cache /tmp/c2w_scar_cache]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

from napari_c2w.quantify import BandSpec, blood_pool, burden_pct, method_scar, scar_agreement
from napari_c2w.surface import build_surface, endocardial_mesh, project_max

#: (label, method, option) of the intensity methods compared.
INTENSITY = (
    ("IIR>1.20", "iir", 1.20),
    ("IIR>1.32", "iir", 1.32),
    ("mean+2SD", "sd", 2.0),
    ("mean+3SD", "sd", 3.0),
)
#: Reported LA fibrosis burdens for reference: Utah stages (DECAAF, Marrouche et al. JAMA 2014):
#: I < 10 %, II 10-20 %, III 20-30 %, IV >= 30 % of the wall.
LITERATURE = "Utah/DECAAF stages: I <10 %, II 10-20 %, III 20-30 %, IV >=30 % of the LA wall"


def _methods(image, cavity, spacing, wall, blood):
    out = {}
    for label, method, value in INTENSITY:
        params = {"iir": value} if method == "iir" else {"sd_k": value}
        out[label] = method_scar(method, image, cavity, spacing, wall, params=params, blood=blood).mask
    return out


def _add_noise(image, sigma, seed):
    if sigma <= 0:
        return image
    rng = np.random.default_rng(seed + 1000)
    re = image + rng.normal(0, sigma, image.shape).astype(np.float32)
    im = rng.normal(0, sigma, image.shape).astype(np.float32)
    return np.sqrt(re**2 + im**2).astype(np.float32)


def _network(volume):
    from napari_c2w.infer import InferenceOptions, segment

    pred = segment(volume, options=InferenceOptions(device="cpu"))
    return pred.labels


def phantoms(args) -> None:  # noqa: C901 (one benchmark table: loops over spacings, seeds and noise)
    from napari_c2w.phantom import SPACINGS, generate_phantom

    names = [m[0] for m in INTENSITY] + (["network"] if args.network else [])
    print("\n## Phantoms: Dice within the true wall / burden error (pp of the true wall)\n")
    print("| slices (mm) | noise (x blood) | true burden % | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    summary: dict[tuple, list] = {}
    for sp_name in args.spacings:
        for seed in args.seeds:
            ph = generate_phantom(seed, spacing=SPACINGS[sp_name])
            cav, wall, truth = (ph.labels[k] > 0 for k in ("cavity", "wall", "scar"))
            sp = ph.image.spacing
            region = wall & ~cav
            true_burden = burden_pct(truth, region)
            for level in args.noise:
                blood0 = blood_pool(ph.image.array, cav, sp)
                image = _add_noise(ph.image.array, level * blood0.mean, seed)
                blood = blood_pool(image, cav, sp)
                masks = _methods(image, cav, sp, wall, blood)
                if args.network:
                    masks["network"] = _network(ph.image.with_array(image))["scar"] > 0
                surf = build_surface(image, cav, sp, scar=truth, with_regions=False, blood=blood)
                b = surf.burdens()
                for key, label in (("iir", "surface IIR>1.20"), ("sd", "surface mean+3SD")):
                    summary.setdefault((sp_name, level, label), []).append(
                        (np.nan, b[key] - b["network"], b["network"])
                    )
                cells = []
                for name in names:
                    a = scar_agreement(masks[name], truth, region)
                    summary.setdefault((sp_name, level, name), []).append(
                        (a["dice"], a["burden_diff_pp"], true_burden)
                    )
                    cells.append(f"{a['dice']:.2f} / {a['burden_diff_pp']:+.1f}")
                print(
                    f"| {sp[0]:g} | {level:g} | {true_burden:.1f} | "
                    + " | ".join(cells)
                    + f" |  <!-- seed {seed} -->"
                )
    print("\nMeans over seeds: voxel Dice / burden error (pp); surface: area burden error (pp) against")
    print("the true scar projected the same way (true surface burden in brackets)\n")
    surf_names = ["surface IIR>1.20", "surface mean+3SD"]
    print("| slices (mm) | noise | " + " | ".join(names + surf_names) + " |")
    print("|---|---|" + "---|" * (len(names) + 2))
    for sp_name in args.spacings:
        for level in args.noise:
            cells = []
            for name in names:
                v = np.asarray(summary[(sp_name, level, name)])
                cells.append(f"{np.nanmean(v[:, 0]):.2f} / {np.mean(v[:, 1]):+.1f}")
            for name in surf_names:
                v = np.asarray(summary[(sp_name, level, name)])
                cells.append(f"{np.mean(v[:, 1]):+.1f} ({np.mean(v[:, 2]):.1f})")
            print(f"| {SPACINGS[sp_name][0]:g} | {level:g} | " + " | ".join(cells) + " |")


def _la2018_cases(args):
    from napari_c2w.io.layouts import read_case_folder

    folders = sorted(p for p in Path(args.data).iterdir() if (p / "lgemri.nrrd").exists())[: args.cases]
    for folder in folders:
        yield folder.name, read_case_folder(folder)


def _cached_network(name, case, cache: Path):
    path = cache / f"{name}.npz"
    if path.exists():
        d = np.load(path)
        return d["wall"] > 0, d["scar"] > 0
    t = time.perf_counter()
    labels = _network(case.image)
    cache.mkdir(parents=True, exist_ok=True)  # --parts timing alone reaches here first
    np.savez_compressed(path, wall=labels["wall"], scar=labels["scar"])
    print(f"  (inference {name}: {time.perf_counter() - t:.0f} s)", flush=True)
    return labels["wall"] > 0, labels["scar"] > 0


def la2018(args) -> None:
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    names = ["network"] + [m[0] for m in INTENSITY]
    burdens: dict[str, list[float]] = {n: [] for n in names}
    band_burdens: dict[str, list[float]] = {m[0]: [] for m in INTENSITY}
    dice: dict[str, list[float]] = {m[0]: [] for m in INTENSITY}
    print("\n## la2018: scar burden (% of the predicted wall) per case\n")
    print("| case | " + " | ".join(names) + " | IIR>1.20 in band |")
    print("|---|" + "---|" * (len(names) + 1))
    for name, case in _la2018_cases(args):
        image, cav, sp = case.image.array.astype(np.float32), case.labels["cavity"] > 0, case.image.spacing
        wall, scar = _cached_network(name, case, cache)
        wall &= ~cav
        blood = blood_pool(image, cav, sp)
        masks = _methods(image, cav, sp, wall, blood)
        burdens["network"].append(burden_pct(scar, wall))
        for label, mask in masks.items():
            burdens[label].append(burden_pct(mask, wall))
            dice[label].append(scar_agreement(mask, scar, wall)["dice"])
        band, _ = BandSpec().scar_region(cav, sp, None)
        for label, mask in _methods(image, cav, sp, None, blood).items():
            band_burdens[label].append(burden_pct(mask, band))
        row = [f"{burdens[n][-1]:.1f}" for n in names]
        print(f"| {name[:8]} | " + " | ".join(row) + f" | {band_burdens['IIR>1.20'][-1]:.1f} |", flush=True)

    def dist(v):
        v = np.asarray(v, float)
        q1, med, q3 = np.nanpercentile(v, [25, 50, 75])
        return f"{np.nanmean(v):.1f} | {med:.1f} ({q1:.1f}-{q3:.1f}) | {np.nanmin(v):.1f}-{np.nanmax(v):.1f}"

    print(f"\nDistribution over {len(burdens['network'])} cases ({LITERATURE}):\n")
    print("| method | wall | mean % | median (IQR) % | range % | Dice with network |")
    print("|---|---|---|---|---|---|")
    for n in names:
        d = f"{np.nanmean(dice[n]):.2f}" if n in dice else ""
        print(f"| {n} | predicted | {dist(burdens[n])} | {d} |")
    for n, v in band_burdens.items():
        print(f"| {n} | band 2.5 mm | {dist(v)} | |")


def _full_case(args):
    """A real case (or a phantom) centred in an 88 x 576 x 576 volume."""
    name, case = next(_la2018_cases(args))
    big = np.zeros((88, 576, 576), np.float32)
    out = {}
    src = case.image.array
    off = [(b - s) // 2 for b, s in zip(big.shape, src.shape, strict=True)]
    sl = tuple(slice(o, o + s) for o, s in zip(off, src.shape, strict=True))
    big[sl] = src
    out["image"] = big
    for k in ("cavity",):
        m = np.zeros(big.shape, np.uint8)
        m[sl] = case.labels[k]
        out[k] = m
    wall, scar = _cached_network(name, case, Path(args.cache))
    for k, v in (("wall", wall), ("scar", scar)):
        m = np.zeros(big.shape, np.uint8)
        m[sl] = v
        out[k] = m
    return name, case.image.spacing, out


def _ours(d, sp):
    mesh = endocardial_mesh(d["cavity"], sp)
    a = project_max(d["image"], mesh, sp)
    b = project_max(d["scar"], mesh, sp)
    return mesh, a, b


def _baseline(d, sp):
    from skimage.measure import marching_cubes

    from napari_c2w.surface.mesh import Mesh, vertex_normals

    v, f, _, _ = marching_cubes(d["cavity"].astype(np.float32), 0.5, spacing=sp)
    mesh = Mesh(v, f, vertex_normals(v, f))
    return mesh, project_max(d["image"], mesh, sp), project_max(d["scar"], mesh, sp)


def timing(args) -> None:
    name, sp, d = _full_case(args)

    def run(fn):
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            mesh, *_ = fn(d, sp)
            times.append(time.perf_counter() - t)
        tracemalloc.start()
        fn(d, sp)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return statistics.median(times), peak, mesh

    t_ours, m_ours, mesh = run(_ours)
    t_base, m_base, base_mesh = run(_baseline)
    from napari_c2w.surface import build_surface

    t = time.perf_counter()
    build_surface(d["image"], d["cavity"], sp, wall=d["wall"], scar=d["scar"])
    t_all = time.perf_counter() - t
    print(f"\n## Timing: case {name} in an 88 x 576 x 576 volume, spacing {sp}\n")
    print("| step | median s | peak MiB (tracemalloc) | vertices |")
    print("|---|---|---|---|")
    print(f"| mesh + projection (image, network scar) | {t_ours:.2f} | {m_ours:.0f} | {mesh.n_vertices} |")
    print(
        "| baseline: full-volume marching cubes + projection "
        f"| {t_base:.2f} | {m_base:.0f} | {base_mesh.n_vertices} |"
    )
    print(f"| whole surface map (+ wall thickness, regions) | {t_all:.2f} | | |")
    print(f"\nratio ours / baseline: {t_ours / t_base:.2f} (target: mesh + projection < 2 s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=["phantoms", "la2018", "timing"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--spacings", nargs="+", default=["1.25", "2.5"])
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2])
    ap.add_argument("--network", action="store_true", help="also run the bundled models on the phantoms")
    ap.add_argument("--data", default="../shared/data/la2018/train")
    ap.add_argument("--cases", type=int, default=10)
    ap.add_argument("--cache", default="/tmp/c2w_scar_cache", help="where predicted walls are cached")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for part in args.parts:
        if part in ("la2018", "timing") and not Path(args.data).is_dir():
            print(f"\n{part}: skipped, no data at {args.data}")
            continue
        {"phantoms": phantoms, "la2018": la2018, "timing": timing}[part](args)


if __name__ == "__main__":
    main()
