"""What bench_faults.py checks after a kill: files under a final name that no reader can read
fully, the completeness of exports, reports and training run folders, and tracebacks.

A *final name* is any name that does not start with ``.`` (napari-c2w writes to hidden
temporaries and renames them into place); case stores (``*.ome.zarr``) are checked by the
campaign itself (old-or-new content after the next command).

Readers: SimpleITK (every voxel; a ``.gz`` stream is also decompressed to its end, since
SimpleITK reads a cut one without a word), slicerio, json, yaml, csv (every row has the header's
fields and a line end), torch, and for surface meshes VTK when the ``vtk`` module is installed
(in a child process: its PLY reader crashes on a cut binary file) else meshio (``.vtk``, ``.ply``)
and the XML (``.vtp``). VTK's legacy and PLY readers accept cut files silently, so where the
campaign knows the complete result (exports, reports: deterministic), a file whose bytes
differ from it is counted as corrupt too.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

TRACEBACK = "Traceback (most recent call last)"


def tracebacks(*stderrs: str | None) -> int:
    """How many of the given child stderr texts hold a Python traceback."""
    return sum(TRACEBACK in (s or "") for s in stderrs)


def final_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` with a final name (no hidden part), outside case stores."""
    if not folder.exists():
        return []
    out = []
    for p in sorted(folder.rglob("*")):
        parts = p.relative_to(folder).parts
        if any(x.startswith(".") or x.endswith(".ome.zarr") for x in parts) or not p.is_file():
            continue
        out.append(p)
    return out


def corrupt_files(folder: Path, expected: dict[str, str | None] | None = None) -> list[str]:
    """Final-named files under ``folder`` that their format's reader cannot read fully, or whose
    content differs from the complete result ``expected`` (relative path -> digest)."""
    files = final_files(folder)
    meshes = mesh_problems([p for p in files if p.suffix in MESHES])
    bad = []
    for p in files:
        rel = str(p.relative_to(folder))
        problem = meshes[p] if p in meshes else read_problem(p)
        digest = (expected or {}).get(rel)
        if not problem and digest is not None and content_digest(p) != digest:
            problem = "not the bytes/voxels of a complete write (cut short?)"
        if problem:
            bad.append(f"{rel}: {problem}")
    return bad


def read_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read fully by its format's reader (None: it can, or no reader)."""
    name = path.name
    try:
        if name.endswith(".gz"):  # SimpleITK reads a cut gzip stream without a word: read it whole
            import gzip

            with gzip.open(path) as fh:
                while fh.read(1 << 22):
                    pass
        for endings, read in READERS:
            if name.endswith(endings):
                return read(path) or None
    except (Exception, SystemExit) as err:  # meshio exits on a file it cannot parse
        return f"{type(err).__name__}: {str(err)[:100]}"
    return None


def _segmentation(path: Path) -> None:
    import slicerio

    np.asarray(slicerio.read_segmentation(str(path))["voxels"]).sum()


def _yaml(path: Path) -> None:
    import yaml

    yaml.safe_load(path.read_text())


def _torch(path: Path) -> None:
    import torch

    torch.load(path, map_location="cpu", weights_only=True)


def csv_problem(path: Path) -> str | None:
    """A CSV whose rows do not all have the header's fields (a row cut short), or no line end."""
    text = path.read_text()
    if not text:
        return "empty"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    width = len(rows[0])
    short = [i for i, r in enumerate(rows[1:], 2) if len(r) != width]
    if short:
        return f"row {short[0]} has not the header's {width} fields"
    if not text.endswith("\n"):
        return "the last row has no line end (cut short)"
    return None


MESHES = (".vtk", ".vtp", ".ply")

#: A child reading meshes with VTK: one JSON line before and one after each file, so that a
#: crash (VTK's PLY reader segfaults on a cut binary file) names the file it happened on.
VTK_READ = """
import json, sys
import vtk
vtk.vtkObject.GlobalWarningDisplayOff()
kinds = {".vtk": vtk.vtkGenericDataObjectReader, ".vtp": vtk.vtkXMLPolyDataReader, ".ply": vtk.vtkPLYReader}
for path in sys.argv[1:]:
    print(json.dumps({"path": path}), flush=True)
    reader = kinds[path[path.rindex("."):]]()
    errors = []
    reader.AddObserver("ErrorEvent", lambda obj, event: errors.append(event))
    reader.SetFileName(path)
    reader.Update()
    out = reader.GetOutput()
    n = 0 if out is None else out.GetNumberOfPoints()
    problem = f"VTK: {len(errors)} read error(s)" if errors else (None if n else "VTK reads no points")
    print(json.dumps({"path": path, "problem": problem}), flush=True)
"""


def mesh_problems(paths: list[Path]) -> dict[Path, str | None]:
    """Path -> why VTK (when installed) or meshio/the XML cannot read the mesh, or None."""
    if not paths:
        return {}
    if importlib.util.find_spec("vtk") is None:
        return {p: _meshio_problem(p) for p in paths}
    results: dict[Path, str | None] = {}
    todo = list(paths)
    while todo:
        done = subprocess.run(
            [sys.executable, "-c", VTK_READ, *map(str, todo)], capture_output=True, text=True, check=False
        )
        started = None
        for line in done.stdout.splitlines():
            record = json.loads(line)
            path = Path(record["path"])
            if "problem" in record:
                results[path], started = record["problem"], None
            else:
                started = path
        if started is not None:  # the reader crashed on this file
            results[started] = f"VTK's reader crashed on it (exit {done.returncode})"
        elif done.returncode and not results:
            return {p: _meshio_problem(p) for p in paths}  # VTK unusable here
        left = [p for p in todo if p not in results]
        if len(left) == len(todo):  # no progress: the child fails between files
            results.update({p: f"VTK's reader failed (exit {done.returncode})" for p in left})
        todo = [p for p in todo if p not in results]
    return results


def _meshio_problem(path: Path) -> str | None:
    try:
        if path.suffix == ".vtp":  # meshio has no .vtp reader: parse the XML and check the sizes
            piece = ET.parse(path).getroot().find("PolyData/Piece")
            n = int(piece.get("NumberOfPoints"))
            values = piece.find("Points/DataArray").text.split()
            if len(values) != 3 * n or n == 0:
                return f"{len(values)} point coordinates for {n} points"
            return None
        import meshio

        if len(meshio.read(path).points) == 0:
            return "meshio reads no points"
    except (Exception, SystemExit) as err:  # meshio exits on a file it cannot parse
        return f"{type(err).__name__}: {str(err)[:100]}"
    return None


#: (name endings, reader returning a problem or None), first match wins.
READERS = (
    (".seg.nrrd", _segmentation),
    ((".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"), lambda p: _volume_digest(p) and None),
    (".json", lambda p: json.loads(p.read_text()) and None),
    ((".yaml", ".yml"), _yaml),
    (".csv", csv_problem),
    ((".pt", ".pt.prev"), _torch),
    (MESHES, lambda p: mesh_problems([p])[p]),
)


def _volume_digest(path: Path) -> str:
    import SimpleITK as sitk

    array = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()


def content_digest(path: Path) -> str:
    """What a complete file holds: the voxels of a volume (however encoded), else its bytes."""
    name = path.name
    if name.endswith(".seg.nrrd"):
        import slicerio

        seg = slicerio.read_segmentation(str(path))
        return hashlib.sha1(np.ascontiguousarray(seg["voxels"]).tobytes()).hexdigest()
    if name.endswith((".nii.gz", ".nii", ".nrrd", ".mha")):
        return _volume_digest(path)
    return hashlib.sha1(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> :func:`content_digest` of every final-named file (a complete result)."""
    return {str(p.relative_to(folder)): content_digest(p) for p in final_files(folder)}


def deterministic(first: dict[str, str], again: dict[str, str]) -> dict[str, str | None]:
    """Two snapshots of complete results: digests that differ (time stamps) become None."""
    return {k: (v if again.get(k) == v else None) for k, v in first.items()}


def result_problems(folder: Path, expected: dict[str, str | None]) -> list[str]:
    """How ``folder`` differs from the complete result ``expected``: files missing, unreadable or
    with other content (files it has beyond those are not counted)."""
    missing = [f"{rel} missing" for rel in expected if not (folder / rel).is_file()]
    bad = [b for b in corrupt_files(folder, expected) if b.split(": ", 1)[0] in expected]
    return missing + bad


def run_folder_problems(run: Path) -> list[str]:
    """A training run folder that is not complete and usable: config, split, checkpoints, a
    metrics CSV with one complete row per validation and increasing iterations, a completed
    status."""
    from napari_c2w.models.checkpoint import read_checkpoint
    from napari_c2w.train import load_config

    problems = []
    for name, read in (
        ("config.yaml", load_config),
        ("split.json", lambda p: json.loads(p.read_text())),
        ("last.pt", read_checkpoint),
        ("best.pt", read_checkpoint),
        ("run.json", lambda p: json.loads(p.read_text())),
    ):
        try:
            read(run / name)
        except Exception as err:
            problems.append(f"{name}: {type(err).__name__}: {str(err)[:80]}")
    try:
        status = json.loads((run / "run.json").read_text()).get("status")
        if status != "completed":
            problems.append(f"run.json: status {status}")
    except Exception:
        pass
    metrics = run / "metrics.csv"
    problem = csv_problem(metrics) if metrics.is_file() else "missing"
    if problem:
        problems.append(f"metrics.csv: {problem}")
    else:
        with open(metrics, newline="") as fh:
            iterations = [r.get("iteration") for r in csv.DictReader(fh)]
        if not all(str(i).isdigit() for i in iterations) or [int(i) for i in iterations] != sorted(
            {int(i) for i in iterations}
        ):
            problems.append(f"metrics.csv: iterations {iterations} not increasing once each")
    return problems
