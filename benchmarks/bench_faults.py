"""Randomized fault campaign: SIGKILL writers at random moments, race writers, fill the disk.

    python benchmarks/bench_faults.py [--kills 500] [--seed 0] [--targets import,train,...]
                                      [--workdir DIR] [--json out.json]

Targets (each a real child process running napari-c2w's own write path):

- ``import``     ``napari-c2w import IMG --cavity LAB -o DS --overwrite`` over an existing store
- ``clean``      ``napari-c2w review STORE --clean`` (scar outside the band is removed)
- ``store-export`` ``write_case_store(case, path, overwrite=True, entry=...)``, the call napari's
                 export and the review queue's save make
- ``predict``    ``predict_cmd.predict_case`` (store and ``--format nrrd`` folder) with the
                 network replaced by a precomputed prediction, so that no torch is loaded: the
                 write path is the real one, the kill lands in it far more often
- ``checkpoint`` ``save_checkpoint(last.pt, overwrite=True)`` in a loop, as training does
- ``race``       two editors read the same store and write it back at once; one of them is
                 killed at a random moment
- ``full-disk``  ``import --overwrite`` into a tmpfs with a random amount of free space
                 (needs root for the mount; skipped otherwise)
- ``export-nifti``, ``export-nrrd``, ``export-seg.nrrd``, ``export-nnunet``, ``report``
                 (``--surface-dir``), ``napari-save`` and ``train``: see ``_fault_outputs.py``

Each killed run is followed by "the next command" (a dataset listing and a full read, or the
same write again for predict folders and checkpoints) and then checked: the result is
readable and holds exactly the old or the new content, no edit reported as saved is missing
(not in the label, not in ``versions/``), and no temporary is left behind. Kill times are
uniform over each target's own measured duration, so they fall in every phase of the write.

The summary gives per target: runs, faults (runs killed), results unreadable or incomplete after
the next command, lost edits (a save reported done that is not there), corrupt files under a final
name right after the kill (a visible file that SimpleITK, slicerio, json, yaml, torch, csv or the
mesh reader cannot read fully: see ``_fault_checks.py``), runs whose child stderr (the killed
one's or the next command's) holds a Python traceback, and leftovers after the next command.
For the targets of ``_fault_outputs.py`` it also counts the faults that hit the write itself
(``mid-write``: the kill left temporaries, part of a new result, or a run folder behind).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from _fault_checks import corrupt_files, tracebacks
from _fault_outputs import EXPORT_FORMATS, OutputTargets
from _fault_targets import CHECKPOINT, EDITOR, EXPORT, PREDICT, REPO, child_env, cli, leftovers, py

sys.path.insert(0, str(REPO / "src"))

from napari_c2w.io import Case, Volume
from napari_c2w.io.store import list_case_stores, read_case_store, read_label_version, read_store_attrs
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.io.volumewrite import write_volume

SHAPE = (40, 160, 160)


class Campaign(OutputTargets):
    def __init__(self, work: Path, rng: random.Random) -> None:
        self.work, self.rng = work, rng
        self.stats: Counter = Counter()
        self.per_target: dict[str, Counter] = {}
        self.durations: dict[str, float] = {}
        self.problems: list[str] = []
        g = np.random.default_rng(0)
        self.image = g.integers(20, 220, SHAPE).astype(np.uint8)
        zz, yy, xx = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
        r = np.sqrt((zz - 20) ** 2 + (yy - 80) ** 2 + (xx - 80) ** 2)
        scar = np.zeros(SHAPE, np.uint8)
        scar[20, 150:155, 150:155] = 1  # far outside the wall band: clean removes it
        self.old = {"cavity": (r < 15).astype(np.uint8), "wall": ((r >= 15) & (r < 18)).astype(np.uint8)}
        self.old["scar"] = scar
        self.new = {"cavity": (r < 16).astype(np.uint8), "wall": ((r >= 16) & (r < 20)).astype(np.uint8)}
        write_volume(Volume(self.image), work / "img.nrrd")
        write_volume(Volume(self.new["cavity"]), work / "lab.nrrd")
        for k, v in self.new.items():
            np.save(work / f"new_{k}.npy", v)
        self.template = work / "template" / "img.ome.zarr"
        write_case_store(Case(Volume(self.image), dict(self.old), case_id="img"), self.template)

    # ------------------------------------------------------------------ helpers
    def fresh_dataset(self, name: str) -> Path:
        ds = self.work / name
        shutil.rmtree(ds, ignore_errors=True)
        ds.mkdir(parents=True)
        shutil.copytree(self.template, ds / "img.ome.zarr")
        return ds

    def run_killed(
        self,
        target: str,
        cmd: list[str],
        wait_for: str | None = None,
        *,
        env: dict | None = None,
        timer: bool = True,
    ) -> tuple[int, str]:
        """Start ``cmd``, SIGKILL it at a random moment of its usual duration (``timer``; else it
        runs until it ends or a crash point in ``env`` kills it); its return code and stderr."""
        t_run = self.durations.get(target)
        proc = subprocess.Popen(
            cmd, env=child_env(**(env or {})), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if wait_for:
            proc.stdout.readline()
        delay = self.rng.uniform(0.0, t_run) if t_run and timer else 900.0
        try:
            _, err = proc.communicate(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate()
        return proc.returncode, err

    def calibrate(self, target: str, cmd_factory) -> None:
        start = time.time()
        cmd, _ = cmd_factory()
        subprocess.run(cmd, env=child_env(), capture_output=True, check=False, timeout=600)
        self.durations[target] = time.time() - start

    def record(  # noqa: PLR0917
        self,
        target: str,
        rc: int,
        ok: bool,
        lost: int,
        left: list[str],
        note: str = "",
        *,
        corrupt: int = 0,
        traces: int = 0,
        midwrite: bool = False,
    ) -> None:
        c = self.per_target.setdefault(target, Counter())
        killed = rc == -signal.SIGKILL
        for counter in (c, self.stats):
            counter["runs"] += 1
            counter["killed"] += killed
            counter["faults mid-write"] += killed and midwrite
            counter["readable old-or-new"] += ok
            counter["unreadable or mixed"] += not ok
            counter["edits lost"] += lost
            counter["corrupt final files"] += corrupt
            counter["tracebacks"] += bool(traces)
            counter["leftovers after next command"] += bool(left)
        if not ok or lost or left or corrupt or traces:
            self.problems.append(
                f"{target}: rc {rc}, ok {ok}, lost {lost}, corrupt {corrupt}, tracebacks {traces}, "
                f"leftovers {left} {note}"
            )

    def store_state(self, ds: Path, name: str) -> str:
        """'old', 'new' or a problem, after the next command (listing + full read)."""
        try:
            stores = list_case_stores(ds)
            case = read_case_store(ds / "img.ome.zarr")
        except Exception as err:
            return f"unreadable: {type(err).__name__}: {err}"
        if ds / "img.ome.zarr" not in stores:
            return "missing from the listing"
        lab = case.labels.get(name)
        if lab is not None and np.array_equal(lab, self.old[name]):
            return "old"
        if name in self.new and lab is not None and np.array_equal(lab, self.new[name]):
            return "new"
        return f"mixed {name}"

    # ------------------------------------------------------------------ targets
    def import_cmd(self):
        ds = self.fresh_dataset("import")
        return cli(
            "import", self.work / "img.nrrd", "--cavity", self.work / "lab.nrrd", "-o", ds, "--overwrite"
        ), ds

    def t_import(self) -> None:
        cmd, ds = self.import_cmd()
        rc, err = self.run_killed("import", cmd)
        state = self.store_state(ds, "cavity")
        self.record("import", rc, state in ("old", "new"), 0, leftovers(ds), state, traces=tracebacks(err))

    def clean_cmd(self):
        ds = self.fresh_dataset("clean")
        return cli("review", ds / "img.ome.zarr", "--clean"), ds

    def t_clean(self) -> None:
        cmd, ds = self.clean_cmd()
        rc, err = self.run_killed("clean", cmd)
        try:
            list_case_stores(ds)
            scar = read_case_store(ds / "img.ome.zarr").labels.get("scar")
            ok = scar is None or np.array_equal(scar, self.old["scar"]) or not scar.any()
            lost = int(rc == 0 and scar is not None and scar.any())
        except Exception:
            ok, lost = False, 0
        self.record("clean", rc, ok, lost, leftovers(ds), traces=tracebacks(err))

    def export_cmd(self):
        ds = self.fresh_dataset("export")
        return py(EXPORT, ds / "img.ome.zarr", self.work / "new_cavity.npy"), ds

    def t_export(self) -> None:
        cmd, ds = self.export_cmd()
        rc, err = self.run_killed("store-export", cmd)
        state = self.store_state(ds, "cavity")
        lost = int(rc == 0 and state != "new")
        ok = state in ("old", "new")
        self.record("store-export", rc, ok, lost, leftovers(ds), state, traces=tracebacks(err))

    def predict_cmd(self, fmt: str):
        out = self.work / f"predict-{fmt}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        args = (self.work / "img.nrrd", out, self.work / "new_cavity.npy", self.work / "new_wall.npy", fmt)
        return py(PREDICT, *args), out

    def t_predict(self) -> None:
        fmt = self.rng.choice(["zarr", "nrrd"])
        cmd, out = self.predict_cmd(fmt)
        rc, err = self.run_killed(f"predict-{fmt}", cmd)
        if fmt == "zarr":
            try:
                list_case_stores(out)
                ok = not (out / "img.ome.zarr").exists() or np.array_equal(
                    read_case_store(out / "img.ome.zarr").labels["cavity"], self.new["cavity"]
                )
            except Exception:
                ok = False
        else:
            folder = out / "img"
            ok = not folder.exists() or {p.name for p in folder.iterdir()} == {
                "cavity.nrrd", "wall.nrrd", "prediction.json"
            }  # fmt: skip
        # the next command: predict --resume redoes an unfinished case
        corrupt = corrupt_files(out)
        again = None
        if (fmt == "nrrd" and not (out / "img" / "prediction.json").exists()) or (
            fmt == "zarr" and not (out / "img.ome.zarr").exists()
        ):
            again = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, check=False).stderr
        self.record(
            "predict",
            rc,
            ok,
            0,
            leftovers(out),
            err[-200:] if not ok else "",
            corrupt=len(corrupt),
            traces=tracebacks(err, again),
        )

    def t_checkpoint(self) -> None:
        from napari_c2w.models.checkpoint import read_checkpoint

        folder = self.work / "ckpt"
        folder.mkdir(exist_ok=True)
        path = folder / "last.pt"
        before = int(read_checkpoint(path)["meta"]["note"]) if path.exists() else -1
        rc, err = self.run_killed("checkpoint", py(CHECKPOINT, path, before + 1), wait_for="ready")
        try:
            ok = (before == -1 and not path.exists()) or int(read_checkpoint(path)["meta"]["note"]) >= before
        except Exception:
            ok = False
        # the next save (here: of a tiny model to another name in the same folder, then the same
        # file again, as a resumed run does) removes the dead saver's temporary
        code = (
            "import sys\nfrom napari_c2w.models import save_checkpoint, read_checkpoint\n"
            "from napari_c2w.models.presets import build_model\nm = build_model('tiny')\n"
            "note = read_checkpoint(sys.argv[1])['meta']['note']\n"
            "meta = {'stage': 'cavity', 'preset': 'tiny', 'note': note}\n"
            "save_checkpoint(sys.argv[1], m, meta, overwrite=True)"
        )
        corrupt = corrupt_files(folder)
        again = None
        if ok and path.exists():
            again = subprocess.run(
                py(code, path), env=child_env(), capture_output=True, text=True, check=False
            )
            again = again.stderr
        left = [n for n in leftovers(folder) if not n.endswith(".prev")]
        self.record("checkpoint", rc, ok, 0, left, corrupt=len(corrupt), traces=tracebacks(err, again))

    def t_race(self) -> None:
        ds = self.fresh_dataset("race")
        store = ds / "img.ome.zarr"
        procs = [
            subprocess.Popen(py(EDITOR, store, z), env=child_env(), stderr=subprocess.PIPE, text=True)
            for z in (5, 30)
        ]
        victim = self.rng.randrange(2)
        time.sleep(self.rng.uniform(0, self.durations.get("store-export", 2.0) * 1.5))
        procs[victim].send_signal(signal.SIGKILL)
        errs = [p.communicate()[1] for p in procs]
        rcs = [p.returncode for p in procs]
        lost, ok = 0, True
        try:
            list_case_stores(ds)
            attrs = read_store_attrs(store)
            scars = [read_case_store(store).labels["scar"]]
            scars += [
                read_label_version(store, "scar", r["key"]) for r in attrs.get("versions", {}).get("scar", [])
            ]
            for z, rc in zip((5, 30), rcs, strict=True):
                if rc == 0 and not any(s[z, 10:14, 10:14].all() for s in scars):
                    lost += 1
        except Exception:
            ok = False
        self.stats["race refused (exit 3)"] += sum(rc == 3 for rc in rcs)
        self.record("race", rcs[victim], ok, lost, leftovers(ds), traces=tracebacks(*errs))

    def t_full_disk(self) -> None:
        mount = self.work / "tmpfs"
        mount.mkdir(exist_ok=True)
        size_kb = 4096
        mount_cmd = ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)]
        if subprocess.run(mount_cmd, check=False, capture_output=True).returncode:
            self.stats["full-disk skipped (no mount)"] += 1
            return
        try:
            ds = mount / "ds"
            shutil.copytree(self.template.parent, ds)
            free = shutil.disk_usage(mount).free
            keep = self.rng.randrange(0, free)
            with open(mount / "filler", "wb") as fh:
                fh.write(b"\0" * max(free - keep, 0))
            cmd = cli(
                "import", self.work / "img.nrrd", "--cavity", self.work / "lab.nrrd", "-o", ds, "--overwrite"
            )
            done = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, check=False)
            rc = done.returncode
            (mount / "filler").unlink()
            state = self.store_state(ds, "cavity")
            self.stats["full-disk refused"] += rc != 0
            lost = int(rc == 0 and state != "new")
            ok = state in ("old", "new")
            self.record("full-disk", rc, ok, lost, leftovers(ds), traces=tracebacks(done.stderr))
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=500, help="number of faults (SIGKILLed runs) to reach")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targets", default=None, help=f"comma-separated subset of {', '.join(TARGETS)}")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import tempfile

    chosen = args.targets.split(",") if args.targets else list(TARGETS)
    unknown = [t for t in chosen if t not in TARGETS]
    if unknown:
        ap.error(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="c2w-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    c = Campaign(work, random.Random(args.seed))
    c.setup_outputs()
    t0 = time.time()
    for name, factory in (
        ("import", c.import_cmd),
        ("clean", c.clean_cmd),
        ("store-export", c.export_cmd),
        ("predict-zarr", lambda: c.predict_cmd("zarr")),
        ("predict-nrrd", lambda: c.predict_cmd("nrrd")),
    ):
        if name.split("-")[0] in chosen or name in chosen or (name == "store-export" and "race" in chosen):
            c.calibrate(name, factory)
    c.durations["checkpoint"] = 1.5
    c.calibrate_outputs(chosen)
    print("calibrated durations (s):", {k: round(v, 2) for k, v in c.durations.items()}, flush=True)
    targets = [TARGETS[name](c) for name in chosen if name != "full-disk"]
    i = 0
    while c.stats["killed"] < args.kills:
        targets[i % len(targets)]()
        if i % 12 == 11 and "full-disk" in chosen:
            c.t_full_disk()
        i += 1
        if i % 30 == 0:
            print(f"  {i} runs, {c.stats['killed']} faults, {time.time() - t0:.0f} s", flush=True)
    for _ in range(10 if "full-disk" in chosen else 0):
        c.t_full_disk()
    print(f"\nfault campaign: {c.stats['runs']} runs in {time.time() - t0:.0f} s (seed {args.seed})")
    print_summary(c)
    if args.json:
        args.json.write_text(
            json.dumps({"total": c.stats, "per_target": c.per_target, "problems": c.problems})
        )
    shutil.rmtree(work, ignore_errors=True) if args.workdir is None else None


#: Target name -> the campaign's method running it once.
TARGETS = {
    "import": lambda c: c.t_import,
    "clean": lambda c: c.t_clean,
    "store-export": lambda c: c.t_export,
    "predict": lambda c: c.t_predict,
    "checkpoint": lambda c: c.t_checkpoint,
    "race": lambda c: c.t_race,
    **{f"export-{fmt}": (lambda c, fmt=fmt: lambda: c.t_export_cli(fmt)) for fmt in EXPORT_FORMATS},
    "report": lambda c: c.t_report,
    "napari-save": lambda c: c.t_napari_save,
    "train": lambda c: c.t_train,
    "full-disk": lambda c: c.t_full_disk,
}

COLUMNS = {
    "runs": "runs",
    "faults": "killed",
    "mid-write": "faults mid-write",
    "unreadable": "unreadable or mixed",
    "lost edits": "edits lost",
    "corrupt files": "corrupt final files",
    "tracebacks": "tracebacks",
    "leftovers": "leftovers after next command",
}


def print_summary(c: Campaign) -> None:
    widths = [max(len(k), 5) + 2 for k in COLUMNS]
    print(f"{'target':<16}" + "".join(f"{k:>{w}}" for k, w in zip(COLUMNS, widths, strict=True)))
    rows = [*sorted(c.per_target.items()), ("total", c.stats)]
    for target, counts in rows:
        cells = "".join(f"{counts[k]:>{w}}" for k, w in zip(COLUMNS.values(), widths, strict=True))
        print(f"{target:<16}" + cells)
    for key in ("race refused (exit 3)", "full-disk refused", "full-disk skipped (no mount)"):
        print(f"{key}: {c.stats[key]}")
    for p in c.problems[:30]:
        print("PROBLEM", p)


if __name__ == "__main__":
    main()
