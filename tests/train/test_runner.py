"""The fine-tuning runner's pure parts: the commands, the dataset of chosen stores, metrics."""

from __future__ import annotations

import os

import pytest

from napari_c2w.errors import InputError
from napari_c2w.train.runner import FineTuneRequest, dataset_folder, read_metrics, shell_commands, train_args


def test_commands_dataset_and_metrics(dataset, cavity_run, tmp_path):
    from napari_c2w.io.store import list_case_stores

    stores = list_case_stores(dataset)[:2]  # the folder also holds the stores' lock files
    request = FineTuneRequest(
        ["cavity", "wall"], stores, tmp_path / "ft", iterations=7, val_every=3, device="cpu"
    )
    data = dataset_folder(request)
    assert sorted(p.name for p in data.iterdir()) == [s.name for s in stores]
    assert all((data / s.name).resolve() == s.resolve() for s in stores)
    lines = shell_commands(request, data)
    assert lines[0] == (
        f"napari-c2w-train --stage cavity --data {data} --from bundled --iterations 7 "
        f"--output {tmp_path / 'ft' / 'cavity'} --val-every 3 --device cpu"
    )
    assert "--stage wall" in lines[1]
    assert dataset_folder(FineTuneRequest(["cavity"], [dataset], tmp_path / "x")) == dataset
    # an earlier fine-tune's output: each stage starts from its own run
    earlier = FineTuneRequest(["cavity"], stores, tmp_path / "y", init=str(cavity_run.parent))
    assert earlier.init_for("cavity") == str(cavity_run)
    assert "--from " + str(cavity_run) in " ".join(train_args(earlier, "cavity", data))
    rows = read_metrics(cavity_run)
    assert [r["iteration"] for r in rows] == [2.0, 4.0] and 0.0 <= rows[-1]["dice"] <= 1.0
    assert read_metrics(tmp_path) == []


def test_no_cases_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no reviewed cases"):
        dataset_folder(FineTuneRequest(["cavity"], [], tmp_path))
    with pytest.raises(InputError, match="not a case store"):
        dataset_folder(FineTuneRequest(["cavity"], [tmp_path / "a.nrrd", tmp_path / "b"], tmp_path))


def test_a_run_records_its_phases_and_the_bar_follows_them(dataset, tmp_path, monkeypatch):
    """The Fine-tune bar moves before the first validation and is not full while calibrating."""
    from napari_c2w.train.api import train
    from napari_c2w.train.rundir import RunDir
    from napari_c2w.train.runner import TrainingProcess
    from testutils import small_train_config

    seen: list[dict] = []
    write = RunDir.write_progress
    monkeypatch.setattr(RunDir, "write_progress", lambda self, r: (seen.append(r), write(self, r))[1])
    out = tmp_path / "ft" / "cavity"
    config = small_train_config("cavity", iterations=4, val_every=4)
    assert train(config, dataset, out).status == "completed"
    phases = [r["phase"] for r in seen]
    assert phases[0] == "preparing" and phases[-1] == "completed"
    assert "training" in phases and phases.index("calibrating") > max(
        i for i, p in enumerate(phases) if p == "training"
    )
    assert any(r["phase"] == "training" and r["iteration"] == 4 for r in seen)

    monkeypatch.undo()
    request = FineTuneRequest(["cavity", "wall"], [dataset], tmp_path / "ft", iterations=4)
    proc = TrainingProcess(request)
    proc.state, proc.stage = "running", "cavity"
    bars = []
    for record in seen:  # replayed as the widget polls them
        RunDir(out).write_progress(record)
        bars.append(proc.fraction()[0])
    assert bars == sorted(bars) and 0 < bars[0] and bars[-1] <= 0.5  # the first of two stages
    assert 0.4 < bars[phases.index("calibrating")] < 0.5
    RunDir(out).write_progress(seen[phases.index("calibrating")])
    assert proc.fraction()[1] == "calibrating the threshold"


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX priorities")
def test_the_training_process_yields_the_cpu_to_the_viewer(dataset, tmp_path):
    from napari_c2w.train.runner import CHILD_NICENESS, TrainingProcess

    proc = TrainingProcess(
        FineTuneRequest(["cavity"], [dataset], tmp_path / "ft", iterations=1, device="cpu")
    )
    proc.start()
    try:
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, proc._proc.pid) == min(mine + CHILD_NICENESS, 19)
    finally:
        proc.cancel()
        proc.wait(timeout=120)
