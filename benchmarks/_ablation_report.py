"""Tables, paired tests and plots of the ablation studies (benchmarks/ablation_*.py).

Everything here works on saved rows (``study.runs``, ``study.cases``: dicts with kind,
variant, size, seed, test, case and the metrics), so a finished or partial study can be
re-tabulated from its results.json without training anything.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

METRICS = ("dice", "surface_dice", "hd95_mm", "assd_mm")
LOWER_IS_BETTER = {"hd95_mm", "assd_mm"}


def summary(cases: list[dict], group: tuple[str, ...], test: str) -> list[dict]:
    """Mean ± sd over test cases x seeds of each group."""
    out: dict = {}
    for r in cases:
        if r["test"] == test:
            out.setdefault(tuple(r[g] for g in group), []).append(r)
    table = []
    for k, rows in out.items():
        entry = dict(zip(group, k, strict=True))
        entry["n"] = len(rows)
        for m in METRICS:
            v = np.array([r[m] for r in rows], float)
            v = v[~np.isnan(v)]
            entry[m] = float(v.mean()) if v.size else math.nan
            entry[f"{m}_sd"] = float(v.std(ddof=1)) if v.size > 1 else math.nan
        table.append(entry)
    return table


def paired(cases: list[dict], a: dict, b: dict, test: str) -> dict:
    """Wilcoxon signed-rank and paired t-test of b - a over matching (seed, case) pairs."""
    from scipy import stats

    def pick(sel):
        return {
            (r["seed"], r["case"]): r
            for r in cases
            if r["test"] == test and all(r.get(k) == v for k, v in sel.items())
        }

    ra, rb = pick(a), pick(b)
    keys = sorted(set(ra) & set(rb))
    out = {"a": a, "b": b, "n": len(keys)}
    for m in METRICS:
        d = np.array([rb[k][m] - ra[k][m] for k in keys], float)
        d = d[~np.isnan(d)]
        res = {"mean_diff": float(d.mean()) if d.size else math.nan, "n": int(d.size)}
        if d.size >= 2 and np.any(d != 0):
            res["wilcoxon_p"] = float(stats.wilcoxon(d).pvalue)
            res["ttest_p"] = float(stats.ttest_1samp(d, 0.0).pvalue)  # = paired t-test
        else:
            res["wilcoxon_p"] = res["ttest_p"] = math.nan
        res["note"] = "n too small (< 6 pairs: Wilcoxon cannot reach p < 0.05)" if d.size < 6 else ""
        out[m] = res
    return out


def plot(table: list[dict], label_keys: tuple[str, ...], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [" / ".join(str(t[k]) for k in label_keys) for t in table]
    fig, axes = plt.subplots(2, 2, figsize=(3 + 0.75 * len(table), 8))
    for ax, m in zip(axes.ravel(), METRICS, strict=True):
        ax.bar(
            range(len(table)),
            [t[m] for t in table],
            yerr=[t[f"{m}_sd"] for t in table],
            capsize=3,
            color="tab:blue" if m not in LOWER_IS_BETTER else "tab:orange",
        )
        ax.set_xticks(range(len(table)), labels, fontsize=7, rotation=35, ha="right")
        ax.set_title(m + (" (lower better)" if m in LOWER_IS_BETTER else ""), fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(table: list[dict], label_keys: tuple[str, ...]) -> str:
    head = " | ".join([*label_keys, "n", *METRICS])
    lines = [f"| {head} |", "|" + "---|" * (len(label_keys) + 1 + len(METRICS))]
    for t in table:
        cells = [str(t[k]) for k in label_keys] + [str(t["n"])]
        cells += [f"{t[m]:.3f} ± {t[f'{m}_sd']:.3f}" for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def print_pairs(tests: list[dict]) -> str:
    lines = [
        "| b vs a | n | Δdice | p Wilcoxon | p t-test | ΔHD95 mm | p Wilcoxon | p t-test | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in tests:
        d, h = t["dice"], t["hd95_mm"]
        name = f"{'/'.join(map(str, t['b'].values()))} vs {'/'.join(map(str, t['a'].values()))}"
        lines.append(
            f"| {name} | {t['n']} | {d['mean_diff']:+.3f} | {d['wilcoxon_p']:.3g} | {d['ttest_p']:.3g} "
            f"| {h['mean_diff']:+.2f} | {h['wilcoxon_p']:.3g} | {h['ttest_p']:.3g} | {d['note']} |"
        )
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def report(study, kind: str, sizes, wanted, pairs) -> None:
    """Tables (mean ± sd), paired tests, compute, summary.md/json and the plot of a study."""
    title = kind.capitalize()
    runs = [c for c in study.cases if c["kind"] == kind]
    pre_cases = [c for c in study.cases if c["kind"] == "pretrain"]
    table = summary(runs, ("size", "variant"), "phantom")
    table.sort(key=lambda t: (sizes.index(t["size"]), wanted.index(t["variant"])))
    print(f"\n{title} on held-out phantoms (mean ± sd over test cases x seeds):")
    text = [f"## {title} (held-out phantoms)", print_table(table, ("size", "variant"))]
    pre = []
    for test in ("phantom", "la2018"):
        t = summary(pre_cases, ("variant",), test)
        if t:
            print(f"\nCavity pre-training (stage 1 / I) on held-out {test}:")
            text += [f"## Cavity prior ({test})", print_table(t, ("variant",))]
            pre += [{**r, "test": test} for r in t]
    tests = [
        paired(runs, {"variant": a, "size": s}, {"variant": b, "size": s}, "phantom")
        for s in sizes
        for a, b in pairs
        if a in wanted and b in wanted
    ]
    print("\nPaired tests (b - a; over test cases x seeds):")
    text += ["## Paired tests", print_pairs(tests)]
    compute: dict[str, list[float]] = {}
    for r in study.runs:
        compute.setdefault(f"{r['kind']}/{r['variant']}", []).append(r["train_s"])
    print(
        "\nTraining wall-clock per run (s): "
        + ", ".join(f"{k}: {sum(v) / len(v):.0f} (n={len(v)})" for k, v in compute.items())
    )
    (study.out / "summary.json").write_text(
        json.dumps(
            {kind: table, "pretrain": pre, "paired": tests, "compute_s": compute}, indent=1, default=float
        )
    )
    (study.out / "summary.md").write_text("\n\n".join(text) + "\n")
    if table:
        plot(
            table,
            ("size", "variant"),
            study.out / f"ablation_{kind}.png",
            f"{title} on held-out phantoms: mean ± sd over cases x seeds",
        )
