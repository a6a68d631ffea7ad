"""Ablation of cavity-to-wall transfer (issue #6; seeds 000, 001, 003).

Variants of the wall stage, all with the same preset, data and wall iterations (--budget):

  a  scratch       random init, plain schedule
  b  c2w-tune      stage-1 cavity init + progressive unfreezing A/B/C (C2W-Tune)
  c  rand-prog     random init + the same progressive schedule (the review's missing control)
  d  inflate2d     2D cavity network inflated to 3D (seed 003) + progressive
  e  cavity-plain  stage-1 cavity init + plain schedule (the init without the schedule)

each at every training size (--sizes: 'full' and reduced numbers of training phantoms) and
seed. The cavity and cavity2d pre-training runs once per seed; their compute is recorded
separately and the cavity prior is itself tested on held-out real la2018 cases. Every wall
run is tested on held-out phantoms (seeds 5000+, never trained on); paired Wilcoxon and
t-tests over test cases x seeds compare b-a, b-c, c-a, d-a, d-b, e-a, e-b.

Default study (CPU; ~35 min when both studies share the 2 cores with --threads 1 each):
    .venv/bin/python benchmarks/ablation_wall.py --threads 1 --out out/ablation_wall
Smoke test (~20 s on an idle 2-core CPU):
    .venv/bin/python benchmarks/ablation_wall.py --quick --out /tmp/ablation_wall_quick

Re-tabulate a finished or partial study (results are saved after every run):
    .venv/bin/python benchmarks/ablation_wall.py --report out/ablation_wall [MORE_DIRS: merged]

--gpu-full: the full-size study on a GPU machine (paper preset and training/paper configs,
ROI/patch from those YAMLs, all la2018 cases in pre-training):
    .venv/bin/python benchmarks/ablation_wall.py --out results/ablation_wall_gpu \
        --config-dir training/paper --preset paper --budget 15000 \
        --pretrain-budget 15000 --roi 44 256 256 --patch 44 256 256 \
        --seeds 0 1 2 3 4 --sizes full,8 --train-phantoms 64 --test-phantoms 20 \
        --shape 88 240 240 --real-train 70 --real-test 10 --threads 8 --device cuda
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _ablation as A

VARIANTS = {  # name -> (init, schedule)
    "a-scratch": ("scratch", "plain"),
    "b-c2w-tune": ("cavity", "progressive"),
    "c-rand-prog": ("scratch", "progressive"),
    "d-inflate2d": ("cavity2d", "progressive"),
    "e-cavity-plain": ("cavity", "plain"),
}
PAIRS = [
    ("a-scratch", "b-c2w-tune"),
    ("c-rand-prog", "b-c2w-tune"),
    ("a-scratch", "c-rand-prog"),
    ("a-scratch", "d-inflate2d"),
    ("b-c2w-tune", "d-inflate2d"),
    ("a-scratch", "e-cavity-plain"),
    ("b-c2w-tune", "e-cavity-plain"),
]


def main(argv=None) -> None:
    started = A.start_study(__doc__, argv, "wall", VARIANTS, PAIRS, sizes="full,4", quick_sizes="full,2")
    if started is None:
        return
    study, args, data, sizes, wanted = started
    tests = {"phantom": A.stores(data["test"])}
    for seed in args.seeds:
        inits = {"scratch": "scratch"}
        if any(VARIANTS[v][0] == "cavity" for v in wanted):
            inits["cavity"] = str(A.pretrain_cavity(study, args, data, seed)[0])
        if any(VARIANTS[v][0] == "cavity2d" for v in wanted):
            inits["cavity2d"] = "inflate2d:" + str(A.pretrain_cavity(study, args, data, seed, "cavity2d")[0])
        for size in sizes:
            for name in wanted:
                init, schedule = VARIANTS[name]
                cases = None if size == "full" else int(size)
                config = A.config_for(
                    args, "wall", seed=seed, init=inits[init], schedule=schedule, data={"cases": cases}
                )
                study.train_eval(
                    {"kind": "wall", "variant": name, "size": size, "seed": seed},
                    config,
                    [data["train"]],
                    tests,
                    "wall",
                )
    A.report(study, "wall", sizes, wanted, PAIRS)


if __name__ == "__main__":
    main()
