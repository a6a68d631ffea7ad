"""Defects 4, 5, 6 and 12: nothing corrupt under a final name, whatever stops an export.

An export on a full disk fails by name or writes complete files; a kill at any step (or in
the middle of a file) leaves only complete files under final names and temporaries no
consumer lists, which the re-run (``--overwrite``) removes; duplicate case ids are refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from relutils import run_child, run_cli

from napari_c2w.cli import main
from napari_c2w.io import Case, Volume
from napari_c2w.io.storewrite import write_case_store
from napari_c2w.io.volume import read_volume

#: Suffixes consumers pick files by (nnU-Net, Slicer, ParaView, pandas) when listing a folder.
CONSUMED = (".nii.gz", ".nii", ".nrrd", ".json", ".vtk", ".vtp", ".ply", ".csv")
IDS = ("c0", "c1", "c2")


def _case(case_id: str, k: int, shape=(6, 20, 24)) -> Case:
    rng = np.random.default_rng(k)
    image = rng.integers(20, 200, size=shape).astype(np.uint8)
    cavity = np.zeros(shape, np.uint8)
    cavity[1:-1, 5:15, 6:18] = 1
    scar = np.zeros(shape, np.uint8)
    scar[2:4, 4:6, 8 + k : 12 + k] = 1
    return Case(Volume(image, (2.0, 1.0, 1.0)), {"cavity": cavity, "scar": scar}, case_id=case_id)


def _dataset(folder, ids=IDS, shape=(6, 20, 24)) -> dict[str, Case]:
    cases = {cid: _case(cid, k, shape) for k, cid in enumerate(ids)}
    for cid, case in cases.items():
        write_case_store(case, folder / f"{cid}.ome.zarr")
    return cases


def _args(fmt: str) -> list[str]:
    return ["--format", fmt, *(["--structures", "cavity,scar"] if fmt == "nnunet" else [])]


def _expected(cases: dict[str, Case], fmt: str) -> dict[str, tuple[str, np.ndarray]]:
    """Final file name (relative to OUT) -> (case id, voxels it must hold)."""
    scar = 2 if fmt == "nnunet" else 3  # nnU-Net's labels are consecutive: cavity 1, scar 2
    out = {}
    for cid, c in cases.items():
        labels = np.where(c.labels["scar"] != 0, scar, np.where(c.labels["cavity"] != 0, 1, 0)).astype(
            np.uint8
        )
        names = {
            "nifti": (f"{cid}_image.nii.gz", f"{cid}_labels.nii.gz"),
            "nrrd": (f"{cid}_image.nrrd", f"{cid}_labels.nrrd"),
            "nnunet": (f"imagesTr/{cid}_0000.nii.gz", f"labelsTr/{cid}.nii.gz"),
            "seg.nrrd": (f"{cid}.nrrd", f"{cid}.seg.nrrd"),
        }[fmt]
        out[names[0]] = (cid, c.image.array)
        out[names[1]] = (cid, labels)
    return out


def _listed(out) -> list:
    """What a consumer sees: the files directly in OUT, OUT/imagesTr and OUT/labelsTr."""
    return [p for d in (out, out / "imagesTr", out / "labelsTr") if d.is_dir() for p in sorted(d.iterdir())]


def _check_out(out, cases: dict[str, Case], fmt: str, *, temporaries_allowed: bool = True) -> set[str]:
    """Every file a consumer lists reads back complete and right; returns the cases written whole."""
    expected = _expected(cases, fmt)
    hidden = [p.name for p in _listed(out) if p.name.startswith(".")]
    consumed = [n for n in hidden if n.endswith(CONSUMED)]
    assert not consumed, f"temporaries a consumer lists as data: {consumed}"
    if not temporaries_allowed:
        assert not hidden, f"temporaries left behind: {hidden}"
    found: dict[str, int] = {}
    for path in _listed(out):
        rel = path.relative_to(out).as_posix()
        if path.name.startswith(".") or path.is_dir() or path.name == "filler":
            continue
        assert path.stat().st_size > 0, f"{rel} is empty"
        if path.name.endswith(".json"):
            json.loads(path.read_text())
            continue
        assert rel in expected, f"unexpected file {rel}"
        cid, want = expected[rel]
        if path.name.endswith(".seg.nrrd"):
            import slicerio

            seg = slicerio.read_segmentation(str(path))
            got = np.zeros(want.shape, np.uint8)
            for name, value in (("cavity", 1), ("scar", 3)):
                got[slicerio.segment_mask(seg, name).transpose(2, 1, 0) != 0] = value
        else:
            got = read_volume(path).array  # the header and the whole stream, then every voxel
        np.testing.assert_array_equal(got, want, err_msg=f"{rel} reads back wrong")
        found[cid] = found.get(cid, 0) + 1
    whole = {cid for cid, n in found.items() if n == 2}
    label_map = out / "label_map.json"
    if label_map.exists():  # written last: every case it lists is there, whole
        assert set(json.loads(label_map.read_text())["cases"]) <= whole
    dataset = out / "dataset.json"
    if dataset.exists():  # nnU-Net's: numTraining cases, all whole
        assert (
            json.loads(dataset.read_text())["numTraining"]
            == len(whole)
            == len(list((out / "labelsTr").glob("*.nii.gz")))
        )
    return whole


# ---------------------------------------------------------------- 4: a full disk


@pytest.mark.parametrize("fmt", ["nifti", "nnunet"])
@pytest.mark.parametrize("free_kb", [8, 36, 64, 160])
def test_full_disk_export_fails_by_name_or_writes_complete_files(tmp_path, mounted, capsys, fmt, free_kb):
    cases = _dataset(tmp_path / "ds", shape=(12, 40, 48))  # ~23 kB images, several pages each
    disk = mounted("disk", "size=192k")
    with open(disk / "filler", "wb") as fh:  # fill the disk up to ``free_kb``
        fh.write(b"\1" * ((192 - free_kb) * 1024))
    out = disk / ("Dataset501_LA" if fmt == "nnunet" else "out")
    code = main(["export", str(tmp_path / "ds"), *_args(fmt), "-o", str(out)])
    err = capsys.readouterr().err
    whole = _check_out(out, cases, fmt, temporaries_allowed=False)
    if code == 0:
        assert whole == set(IDS), err
        assert "0 failed" in err
    else:
        assert "No space left" in err or "FAILED" in err, err


# ---------------------------------------------------------------- 5: a kill at any moment


def _points(tmp_path, monkeypatch, fmt: str) -> list[str]:
    """The crash points an export passes, in order, as NAPARI_C2W_CRASH_AT values (name:nth)."""
    import napari_c2w._fs as fs

    cases = tmp_path / "probe-ds"
    _dataset(cases, IDS[:2])
    seen: list[str] = []
    monkeypatch.setattr(fs, "crash_point", seen.append)
    out = tmp_path / ("probe" if fmt != "nnunet" else "Dataset599_Probe")
    assert main(["export", str(cases), *_args(fmt), "-o", str(out)]) == 0
    monkeypatch.undo()
    return [f"{name}:{seen[: k + 1].count(name)}" for k, name in enumerate(seen)]


def _out(tmp_path, fmt: str, tag: str):
    """An output folder per attempt (nnU-Net's named DatasetNNN_...)."""
    return tmp_path / (f"Dataset502_{tag}" if fmt == "nnunet" else tag)


def _rerun_completes(ds, out, cases, fmt) -> None:
    done = run_cli("export", ds, *_args(fmt), "-o", out, "--overwrite")
    assert done.returncode == 0, done.stderr[-800:]
    assert _check_out(out, cases, fmt, temporaries_allowed=False) == set(cases)


@pytest.mark.parametrize("fmt", ["nifti", "nnunet", "seg.nrrd"])
def test_kill_at_every_step_of_an_export(tmp_path, monkeypatch, fmt):
    points = _points(tmp_path, monkeypatch, fmt)
    steps = {p.split(":")[0] for p in points}
    assert {"export-written", "export-renamed", "export-committed"} <= steps, points
    ds = tmp_path / "ds"
    cases = _dataset(ds, IDS[:2])
    for point in points:
        out = _out(tmp_path, fmt, point.replace(":", "_"))
        killed = run_cli("export", ds, *_args(fmt), "-o", out, NAPARI_C2W_CRASH_AT=point)
        assert killed.returncode == -9, f"{point} was not reached: {killed.stderr[-500:]}"
        _check_out(out, cases, fmt)
        again = run_cli("export", ds, *_args(fmt), "-o", out)  # without --overwrite: refused by name
        if again.returncode != 0:
            assert "exists" in again.stderr and "--overwrite" in again.stderr, again.stderr[-500:]
        _rerun_completes(ds, out, cases, fmt)


KILL_AT_SIZE = """
import resource, signal, sys
from napari_c2w.cli import main
limit = int(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it: a write past the limit kills
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("fmt", ["nifti", "nnunet", "seg.nrrd"])
def test_kill_in_the_middle_of_a_file(tmp_path, fmt):
    """Killed while a file is half written (the first write past a size limit kills), or
    failed by name where the writer survives the signal."""
    import signal

    ds = tmp_path / "ds"
    cases = _dataset(ds, IDS[:2])
    for limit in (100, 700, 1500, 3000):
        out = _out(tmp_path, fmt, f"limit{limit}")
        killed = run_child(
            KILL_AT_SIZE, limit, "export", ds, *_args(fmt), "-o", out, PYTHONDONTWRITEBYTECODE="1"
        )
        assert killed.returncode in (-signal.SIGXFSZ, 0, 1), killed.stderr[-500:]
        if killed.returncode == 1:  # the write error reached us (SimpleITK's writer ignores it)
            assert "FAILED" in killed.stderr, killed.stderr[-500:]
        _check_out(out, cases, fmt)
        _rerun_completes(ds, out, cases, fmt)


def test_surface_export_killed_mid_file_leaves_no_truncated_mesh(tmp_path):
    """vtk/vtp/ply/csv were written in place: a kill left a truncated mesh under its final name."""
    import signal

    pytest.importorskip("vtkmodules", reason="surface meshes need the [surface] extra (VTK)")
    from napari_c2w.io.store import store_path
    from napari_c2w.phantom import generate_phantom
    from napari_c2w.surface.export import read_mesh

    case = generate_phantom(0, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25)).to_case()
    write_case_store(case, store_path(tmp_path / "ds", case.case_id))
    for limit in (4000, 60000):
        out = tmp_path / f"out{limit}"
        killed = run_child(
            KILL_AT_SIZE, limit, "export", tmp_path / "ds", "--format", "surface", "-o", out,
            PYTHONDONTWRITEBYTECODE="1",
        )  # fmt: skip
        assert killed.returncode == -signal.SIGXFSZ, killed.stderr[-500:]
        names = sorted(p.name for p in out.iterdir())
        assert not [n for n in names if n.startswith(".") and n.endswith(CONSUMED)], names
        for name in names:
            if name.endswith((".vtk", ".vtp", ".ply")):
                assert len(read_mesh(out / name)[0]) > 100  # VTK reads it whole
            elif name.endswith(".csv"):
                assert (out / name).read_text().endswith("\n")
        done = run_cli("export", tmp_path / "ds", "--format", "surface", "-o", out, "--overwrite")
        assert done.returncode == 0, done.stderr[-800:]
        assert sorted(p.name for p in out.iterdir()) == [
            "phantom_0000.ply", "phantom_0000.vtk", "phantom_0000.vtp", "phantom_0000_regions.csv"
        ]  # fmt: skip


# ---------------------------------------------------------------- 6: temporaries


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_are_swept_and_live_ones_kept(tmp_path):
    import time

    ds = tmp_path / "ds"
    cases = _dataset(ds, IDS[:1])
    out = tmp_path / "Dataset503_LA"
    (out / "imagesTr").mkdir(parents=True)
    dead, old = _dead_pid(), time.time() - 7200
    stale = [
        out / "imagesTr" / f".c9_0000.nii.gz.{dead}-0badf00d.c2w-tmp",  # ours, writer gone
        out / "imagesTr" / ".c9_0000.nii.gz.abcd1234.tmp.nii.gz",  # an older version's, 2 h old
        out / f".dataset.json.{dead}-0badf00d.c2w-tmp",
    ]
    live = out / "imagesTr" / f".c8_0000.nii.gz.{os.getpid()}-00c0ffee.c2w-tmp"  # a live writer's
    for p in [*stale, live]:
        p.write_bytes(b"\0" * 10)
        if "abcd1234" in p.name:
            os.utime(p, (old, old))
    assert main(["export", str(ds), *_args("nnunet"), "-o", str(out)]) == 0
    assert [p.name for p in stale if p.exists()] == []
    assert live.exists()
    live.unlink()
    assert _check_out(out, cases, "nnunet", temporaries_allowed=False) == set(cases)


WRITE_TEXT = """
import sys
from napari_c2w._fs import atomic_write_text
atomic_write_text(sys.argv[1], "epochs: 3\\n")
"""


def test_a_killed_text_write_leaves_a_temporary_no_reader_matches_and_the_next_write_removes_it(tmp_path):
    from napari_c2w._fs import atomic_write_text

    run = tmp_path / "run"
    run.mkdir()
    killed = run_child(WRITE_TEXT, run / "config.yaml", NAPARI_C2W_CRASH_AT="text-written")
    assert killed.returncode == -9, killed.stderr[-500:]
    (left,) = list(run.iterdir())
    assert left.name.startswith(".") and not left.name.endswith((".yaml", ".json", ".tmp")), left.name
    atomic_write_text(run / "status.json", "{}")
    assert sorted(p.name for p in run.iterdir()) == ["status.json"]


# ---------------------------------------------------------------- 12: duplicate case ids


def test_duplicate_case_ids_are_refused_naming_both_stores(tmp_path, capsys):
    ds = tmp_path / "ds"
    _dataset(ds, ("a", "b"))
    write_case_store(_case("a", 7), ds / "a-copy.ome.zarr")  # a second store holding case id "a"
    out = tmp_path / "Dataset504_LA"
    assert main(["export", str(ds), *_args("nnunet"), "-o", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "a.ome.zarr" in err and "a-copy.ome.zarr" in err and "case id 'a'" in err, err
    assert not (out / "dataset.json").exists() and not list(out.rglob("*.nii.gz"))


def test_export_cases_refuses_duplicate_case_ids(tmp_path):
    from napari_c2w.errors import InputError
    from napari_c2w.io.export import export_cases

    with pytest.raises(InputError, match="case id 'x'"):
        export_cases([_case("x", 0), _case("y", 1), _case("x", 2)], tmp_path / "out", "nifti", overwrite=True)
    assert not (tmp_path / "out" / "label_map.json").exists()
