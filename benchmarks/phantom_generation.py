"""Time synthetic LGE phantom generation and report peak memory.

Runs the configuration given on the command line (default: the full-size 88 x 576 x 576
case at 0.625 mm), then the default-shape phantoms at the two anisotropic spacings, each
``--repeats`` times with different seeds, and prints a one-line summary per configuration.

    python benchmarks/phantom_generation.py --shape 88 576 576 --spacing 0.625 0.625 0.625 --repeats 2

Timed runs are untraced; peak memory comes from one extra run per configuration under
tracemalloc (numpy allocations), plus the process's peak resident set size (``ru_maxrss``,
cumulative over the whole run).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

from napari_c2w.phantom import SPACINGS, default_shape, generate_phantom


def run(shape, spacing, repeats: int, seed0: int) -> dict:
    """Time ``repeats`` generations, then trace one more for the peak of numpy allocations."""
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        ph = generate_phantom(seed0 + i, shape=shape, spacing=spacing)
        times.append(time.perf_counter() - t0)
        print(
            f"  seed {seed0 + i}: {times[-1]:.2f} s  scale {ph.meta['scale']}  "
            f"scar {ph.meta['scar_fraction']:.0%}",
            flush=True,
        )
        del ph
    tracemalloc.start()
    generate_phantom(seed0, shape=shape, spacing=spacing)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"times": times, "peak_traced": peak}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(88, 576, 576), help="z y x")
    parser.add_argument("--spacing", type=float, nargs=3, default=SPACINGS["iso"], help="z y x in mm")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-anisotropic", action="store_true", help="only run the given configuration")
    args = parser.parse_args(argv)
    configs = [(tuple(args.shape), tuple(args.spacing))]
    if not args.no_anisotropic:
        configs += [(default_shape(SPACINGS[k]), SPACINGS[k]) for k in ("1.25", "2.5")]
    summary = []
    for shape, spacing in configs:
        print(f"shape {shape} spacing {spacing}:", flush=True)
        res = run(shape, spacing, args.repeats, args.seed)
        t = res["times"]
        summary.append(
            f"shape {'x'.join(map(str, shape))} spacing {'/'.join(f'{s:g}' for s in spacing)} mm: "
            f"mean {sum(t) / len(t):.2f} s, min {min(t):.2f} s, max {max(t):.2f} s over {len(t)} "
            f"cases; peak traced {res['peak_traced'] / 2**30:.2f} GiB"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    print("\nsummary:")
    for line in summary:
        print(line)
    print(f"process peak RSS {rss / 1024:.2f} GiB")


if __name__ == "__main__":
    main()
