"""bench_faults.py's targets that write files for other tools or for training, as a mixin of its
Campaign (which gives ``work``, ``rng``, ``durations``, ``run_killed``, ``record``, ``fresh_dataset``,
``store_state``, ``image``, ``old`` and ``new``):

- ``export-<fmt>``  ``napari-c2w export DS --format nifti|nrrd|seg.nrrd|nnunet -o OUT`` (a new
                    folder, or ``--overwrite`` over a complete earlier export); the next command is
                    the same export with ``--overwrite`` (what the CLI says finishes an interrupted one)
- ``report``        ``napari-c2w report DS -o rep.csv --surface-dir DIR --overwrite``; next: the same
- ``napari-save``   ``napari_c2w._writer.write_case`` in a child on the layer data tuples the reader
                    gives (the cavity layer repainted), to the store it came from (File > Save) or
                    to a new store (Save As); next: a listing and a full read
- ``train``         ``napari-c2w-train`` of the tiniest config, killed at a random moment or at a
                    crash point of its run-folder writes; next: ``--resume``, and where that refuses
                    (a run that never trained) the starting command again, as its message says

After each kill, every file under a final name (not hidden, outside case stores) is read with its
format's reader (:func:`_fault_checks.corrupt_files`); after the next command the result must be
complete and hold what an uninterrupted run writes.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import yaml

from _fault_checks import (
    corrupt_files,
    deterministic,
    final_files,
    result_problems,
    run_folder_problems,
    snapshot,
    tracebacks,
)
from _fault_targets import NAPARI_SAVE, TRAIN_CONFIG, child_env, cli, py, train_cli
from napari_c2w.io import Case, Volume
from napari_c2w.io.store import list_case_stores, read_case_store
from napari_c2w.io.storewrite import write_case_store

EXPORT_FORMATS = ("nifti", "nrrd", "seg.nrrd", "nnunet")
#: Crash points of a training run's folder writes (config.yaml, split.json, progress/run.json are
#: atomic text files, ``text-<step>:<n>`` their n-th): the first two fall between config and split.
TRAIN_CRASH_POINTS = (
    "text-written:1",
    "text-committed:1",
    "text-written:2",
    "text-committed:2",
    "text-renamed:3",
    "text-committed:4",
    "text-committed:6",
)


def hidden_leftovers(folder: Path) -> list[str]:
    """Hidden temporaries anywhere under ``folder`` (lock files are permanent)."""
    if not folder.exists():
        return []
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob(".*")
        if not p.name.endswith(".lock") and ".ome.zarr" not in str(p.relative_to(folder).parent)
    )


class OutputTargets:
    """Exports, the surface report, napari saves and training run folders (see the module)."""

    def setup_outputs(self) -> None:
        """The 3-case dataset exports read, the 2-phantom training dataset and its config."""
        self.export_ds = self.work / "export-source"
        shutil.rmtree(self.export_ds, ignore_errors=True)
        scar = self.old["wall"].copy()
        scar[:, :, :80] = 0  # half the wall enhances: the report has scar burden and surface arrays
        for cid in ("img", "img2", "img3"):
            labels = {**self.old, "scar": scar}
            case = Case(Volume(self.image, (2.0, 1.0, 1.0)), labels, case_id=cid)
            write_case_store(case, self.export_ds / f"{cid}.ome.zarr")
        from napari_c2w.io.store import store_path
        from napari_c2w.phantom import generate_phantom

        self.train_ds = self.work / "train-source"
        for seed in (1, 2):
            case = generate_phantom(seed, shape=(40, 64, 64), spacing=(1.25, 1.25, 1.25)).to_case()
            case.labels = {"cavity": case.labels["cavity"]}
            write_case_store(case, store_path(self.train_ds, case.case_id))
        self.train_config = self.work / "tiny.yaml"
        self.train_config.write_text(yaml.safe_dump(TRAIN_CONFIG))
        self.reference: dict[str, dict] = {}

    def calibrate_outputs(self, chosen: list[str]) -> None:
        """Each chosen target uninterrupted: its duration and its complete result."""
        # each export twice: what differs between two clean runs (time stamps) is not compared
        for fmt in [f for f in EXPORT_FORMATS if f"export-{f}" in chosen]:
            out = self._export_out(fmt)
            shutil.rmtree(out.parent if fmt == "nnunet" else out, ignore_errors=True)
            cmd = cli("export", self.export_ds, "--format", fmt, "-o", out)
            self.durations[f"export-{fmt}"] = self._timed(cmd)
            first = snapshot(out)
            self._timed([*cmd, "--overwrite"])
            self.reference[fmt] = deterministic(first, snapshot(out))
        if "report" in chosen:
            self._calibrate_report()
        if "napari-save" in chosen:
            self._calibrate_napari_save()
        if "train" in chosen:
            shutil.rmtree(self.work / "train-run", ignore_errors=True)
            self.durations["train"] = self._timed(self._train_cmd())

    def _calibrate_report(self) -> None:
        folder = self.work / "report"
        shutil.rmtree(folder, ignore_errors=True)
        self.durations["report"] = self._timed(self._report_cmd())
        first = snapshot(folder)
        self._timed(self._report_cmd())
        self.reference["report"] = deterministic(first, snapshot(folder))

    def _calibrate_napari_save(self) -> None:
        ds = self.fresh_dataset("napari")
        start = time.time()
        proc = subprocess.Popen(
            py(NAPARI_SAVE, ds / "img.ome.zarr", self.work / "new_cavity.npy", ds / "img.ome.zarr"),
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        proc.stdout.readline()
        ready = time.time()
        proc.wait()
        self.durations["napari-save"] = time.time() - ready
        self.durations["napari-save start"] = ready - start

    def _timed(self, cmd: list[str]) -> float:
        start = time.time()
        subprocess.run(cmd, env=child_env(), capture_output=True, check=False, timeout=900)
        return time.time() - start

    # ------------------------------------------------------------------ exports and the report
    def _export_out(self, fmt: str) -> Path:
        folder = self.work / f"export-{fmt}"
        return folder / "Dataset001_LA" if fmt == "nnunet" else folder

    def t_export_cli(self, fmt: str) -> None:
        out = self._export_out(fmt)
        overwrite = self.rng.random() < 0.5 and out.exists()
        if not overwrite:
            shutil.rmtree(out.parent if fmt == "nnunet" else out, ignore_errors=True)
        cmd = cli("export", self.export_ds, "--format", fmt, "-o", out)
        rc, err = self.run_killed(f"export-{fmt}", cmd + (["--overwrite"] if overwrite else []))
        mid = bool(hidden_leftovers(out)) or (not overwrite and bool(final_files(out)))
        self._finish_output(f"export-{fmt}", rc, err, out, [*cmd, "--overwrite"], self.reference[fmt], mid)

    def _report_cmd(self) -> list[str]:
        folder = self.work / "report"
        return cli(
            "report",
            self.export_ds,
            "-o",
            folder / "rep.csv",
            "--overwrite",
            "--surface-dir",
            folder / "surf",
        )

    def t_report(self) -> None:
        folder = self.work / "report"
        fresh = self.rng.random() < 0.5
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(exist_ok=True)
        rc, err = self.run_killed("report", self._report_cmd())
        mid = bool(hidden_leftovers(folder)) or (fresh and bool(final_files(folder)))
        self._finish_output("report", rc, err, folder, self._report_cmd(), self.reference["report"], mid)

    def _finish_output(  # noqa: PLR0917
        self, target: str, rc: int, err: str, out: Path, again: list[str], expected: dict, mid: bool
    ) -> None:
        corrupt = corrupt_files(out, expected)
        done = subprocess.run(again, env=child_env(), capture_output=True, text=True, check=False)
        problems = result_problems(out, expected)
        if done.returncode:
            problems.append(f"the next command failed: {done.stderr.strip()[-160:]}")
        note = "; ".join(corrupt[:2] + problems[:2])
        self.record(
            target,
            rc,
            not problems,
            0,
            hidden_leftovers(out),
            note,
            corrupt=len(corrupt),
            traces=tracebacks(err, done.stderr),
            midwrite=mid,
        )

    # ------------------------------------------------------------------ napari saves
    def t_napari_save(self) -> None:
        ds = self.fresh_dataset("napari")
        save_as = self.rng.random() < 0.3
        target = ds / ("img-saved.ome.zarr" if save_as else "img.ome.zarr")
        cmd = py(NAPARI_SAVE, ds / "img.ome.zarr", self.work / "new_cavity.npy", target)
        rc, err = self.run_killed("napari-save", cmd, wait_for="ready")
        corrupt = corrupt_files(ds)
        mid = bool(hidden_leftovers(ds)) or (save_as and target.exists())
        if not save_as:
            state = self.store_state(ds, "cavity")
            ok, lost = state in ("old", "new"), int(rc == 0 and state != "new")
        else:
            try:
                listed = target in list_case_stores(ds)
                saved = listed and np.array_equal(
                    read_case_store(target).labels["cavity"], self.new["cavity"]
                )
                state = "new" if saved else ("absent" if not target.exists() else "other content")
            except Exception as exc:
                state = f"unreadable: {type(exc).__name__}: {exc}"
            ok, lost = state in ("new", "absent"), int(rc == 0 and state != "new")
        self.record(
            "napari-save",
            rc,
            ok,
            lost,
            hidden_leftovers(ds),
            state,
            corrupt=len(corrupt),
            traces=tracebacks(err),
            midwrite=mid,
        )

    # ------------------------------------------------------------------ training run folders
    def _train_cmd(self) -> list[str]:
        run = self.work / "train-run"
        return train_cli(
            "--stage", "cavity", "--config", self.train_config, "--data", self.train_ds, "--output", run
        )

    def t_train(self) -> None:
        run = self.work / "train-run"
        shutil.rmtree(run, ignore_errors=True)
        crash = self.rng.choice(TRAIN_CRASH_POINTS) if self.rng.random() < 0.3 else None
        env = {"NAPARI_C2W_CRASH_AT": crash} if crash else None
        rc, err = self.run_killed("train", self._train_cmd(), env=env, timer=crash is None)
        corrupt = corrupt_files(run)
        mid = run.exists()
        errs = [err]
        if rc != 0:  # the next command: resume; a run that never trained is started again
            resumed = subprocess.run(
                train_cli("--resume", "--output", run),
                env=child_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            errs.append(resumed.stderr)
            if resumed.returncode != 0:
                again = subprocess.run(
                    self._train_cmd(), env=child_env(), capture_output=True, text=True, check=False
                )
                errs.append(again.stderr)
        problems = run_folder_problems(run)
        note = f"crash at {crash}; " if crash else ""
        self.record(
            "train",
            rc,
            not problems,
            0,
            hidden_leftovers(run),
            note + "; ".join(corrupt[:2] + problems[:2]),
            corrupt=len(corrupt),
            traces=tracebacks(*errs),
            midwrite=mid,
        )
