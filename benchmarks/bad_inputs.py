"""Run napari-c2w on every bad input we know of and tabulate what it says (docs/reliability.md).

    python benchmarks/bad_inputs.py [--write docs/reliability.md]

Each row is a real command in a child process on a freshly made bad input; the table shows
the input, the message napari-c2w printed (errors, failures and warnings, progress bars
dropped, temporary paths shortened) and the exit code. With ``--write`` the table between the
``<!-- bad-inputs -->`` markers of the given Markdown file is replaced.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from napari_c2w.io import Case, Volume  # noqa: E402
from napari_c2w.io.storewrite import write_case_store  # noqa: E402
from napari_c2w.io.volumewrite import write_volume  # noqa: E402

MARK = "<!-- bad-inputs -->"


def _env() -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "OMP_NUM_THREADS": "1",
        "PYTHONIOENCODING": "utf-8",
    }


def run(args: list, work: Path) -> tuple[str, int]:
    """Messages and exit code of ``napari-c2w ARGS`` (``napari-c2w-train`` for args[0] 'train')."""
    module = "napari_c2w.train.cli" if args[0] == "train" else "napari_c2w.cli"
    args = args[1:] if args[0] == "train" else args
    done = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        env=_env(),
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        cwd=work,
        check=False,
        timeout=600,
    )
    lines = []
    for raw in (done.stderr + "\n" + done.stdout).replace("\r", "\n").splitlines():
        line = raw.strip()
        if re.search(r"error|FAILED|warning|problem:|^FAIL|saved to", line) and "%|" not in line:
            lines.append(line.replace(str(work) + "/", "").replace(str(work), "."))
    return " / ".join(dict.fromkeys(lines)) or "(no message)", done.returncode


def _mount(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=False,
                          capture_output=True).returncode == 0  # fmt: skip


def cases(w: Path):
    """(description, command) pairs, making each bad input in ``w``."""
    rng = np.random.default_rng(0)
    image = rng.integers(20, 200, (12, 40, 48)).astype(np.int16)
    img = write_volume(Volume(image, (2.0, 1.0, 1.0)), w / "img.nrrd")
    nii = write_volume(Volume(image, (2.0, 1.0, 1.0)), w / "ok.nii.gz")
    raw = gzip.decompress(nii.read_bytes())
    (w / "trunc.nii.gz").write_bytes(nii.read_bytes()[: nii.stat().st_size * 6 // 10])
    yield "NIfTI .nii.gz cut at 60% (`head -c`)", ["import", "trunc.nii.gz", "-o", "out"]
    (w / "trunc.nii").write_bytes(raw[: len(raw) * 6 // 10])
    yield "NIfTI .nii cut at 60%", ["import", "trunc.nii", "-o", "out"]
    (w / "notgz.nii.gz").write_text("this is not gzip")
    yield ".nii.gz that is not gzip", ["import", "notgz.nii.gz", "-o", "out"]
    (w / "empty.nrrd").write_bytes(b"")
    yield "empty file (0 bytes)", ["import", "empty.nrrd", "-o", "out"]
    (w / "huge.nrrd").write_bytes(
        b"NRRD0004\ntype: double\ndimension: 3\nsizes: 100000 100000 100000\nencoding: gzip\n\n"
    )
    yield "NRRD header declaring 10^15 voxels", ["import", "huge.nrrd", "-o", "out"]
    write_volume(Volume(np.zeros((1, 40, 48), np.uint8) + 3), w / "flat2d.nrrd")
    yield "single-slice (2D) image", ["import", "flat2d.nrrd", "-o", "out"]
    write_volume(Volume(np.full((12, 40, 48), 0, np.uint8)), w / "zeros.nrrd")
    yield "all-zero image", ["import", "zeros.nrrd", "-o", "out"]
    nan = image.astype(np.float32)
    nan[3, 3, 3] = np.nan
    write_volume(Volume(nan), w / "nan.nrrd")
    yield "image with a NaN voxel", ["import", "nan.nrrd", "-o", "out"]
    c, s = np.cos(0.3), np.sin(0.3)
    write_volume(Volume(image, (5.0, 1.0, 1.0), direction=(c, -s, 0, s, c, 0, 0, 0, 1)), w / "oblique.nrrd")
    yield "oblique image with 5 mm slices", ["import", "oblique.nrrd", "-o", "out"]
    yield from _label_cases(w, image, img)
    yield from _hostile_cases(w, image, img)
    yield from _store_and_command_cases(w, image, img)


def _hostile_cases(w: Path, image: np.ndarray, img: Path):
    """Files made to reach outside their folder or to exhaust memory (issue 31)."""
    header = "NRRD0004\ntype: short\ndimension: 3\nsizes: 48 40 12\nencoding: raw\nendian: little\n"
    (w / "passwd.nhdr").write_text(header + "data file: /etc/passwd\n")
    yield "detached NRRD whose data file is /etc/passwd", ["import", "passwd.nhdr", "-o", "out"]
    (w / "up.mhd").write_text(
        "ObjectType = Image\nNDims = 3\nDimSize = 48 40 12\nElementType = MET_SHORT\n"
        "ElementDataFile = ../../etc/hostname\n"
    )
    yield "MetaImage whose ElementDataFile is ../../etc/hostname", ["import", "up.mhd", "-o", "out"]
    (w / "urandom.nhdr").write_text(header + "data file: /dev/urandom\n")
    yield "detached NRRD reading /dev/urandom", ["import", "urandom.nhdr", "-o", "out"]
    bomb = b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 1600 1600 1600\nencoding: gzip\n\n"
    (w / "bomb.nrrd").write_bytes(bomb + gzip.compress(bytes(4 << 20)))
    yield "4 MB gzip NRRD declaring 4 GB", ["import", "bomb.nrrd", "-o", "out"]
    ds = w / "evil"
    cavity = np.zeros(image.shape, np.uint8)
    cavity[2:10, 10:30, 10:30] = 1
    store = write_case_store(
        Case(Volume(image, (2.0, 1.0, 1.0)), {"cavity": cavity}, case_id="x"), ds / "x.ome.zarr"
    )
    meta = json.loads((store / "zarr.json").read_text())
    meta["attributes"]["napari_c2w"]["case_id"] = "../../escaped"
    (store / "zarr.json").write_text(json.dumps(meta))
    yield (
        "a store whose case_id attribute is ../../escaped",
        ["export", "evil", "--format", "nifti", "-o", "exp"],
    )


def _label_cases(w: Path, image: np.ndarray, img: Path):
    lab = np.zeros(image.shape, np.int16)
    lab[3:6, 10:20, 10:20] = 1
    write_volume(Volume(lab[:, :30], (2.0, 1.0, 1.0)), w / "shape.nrrd")
    yield "label of another shape", ["import", img, "--cavity", "shape.nrrd", "-o", "out"]
    write_volume(Volume(lab, (2.0, 1.1, 1.0)), w / "spacing.nrrd")
    yield "label with another spacing", ["import", img, "--cavity", "spacing.nrrd", "-o", "out"]
    write_volume(Volume(lab, (2.0, 1.0, 1.0), direction=(-1, 0, 0, 0, 1, 0, 0, 0, 1)), w / "flipped.nrrd")
    yield "label with a flipped direction", ["import", img, "--cavity", "flipped.nrrd", "-o", "out"]
    multi = lab.copy()
    multi[7:9, 10:20, 10:20] = 2
    write_volume(Volume(multi, (2.0, 1.0, 1.0)), w / "multi.nrrd")
    yield "multi-label map {0,1,2} as --cavity", ["import", img, "--cavity", "multi.nrrd", "-o", "out"]
    yield "the same with --label-value 7 (absent)", ["import", img, "--cavity", "multi.nrrd", "-o", "out",
                                                     "--label-value", "7"]  # fmt: skip
    write_volume(Volume(-lab, (2.0, 1.0, 1.0)), w / "negative.nrrd")
    yield "label with negative values", ["import", img, "--cavity", "negative.nrrd", "-o", "out"]
    yield "--case-id ../../escaped", ["import", img, "-o", "out", "--case-id", "../../escaped"]
    yield "--case-id /tmp/absolute", ["import", img, "-o", "out", "--case-id", "/tmp/absolute"]


def _store_and_command_cases(w: Path, image: np.ndarray, img: Path):
    ds = w / "ds"
    cavity = np.zeros(image.shape, np.uint8)
    cavity[2:10, 10:30, 10:30] = 1
    for name in "abcdef":
        write_case_store(
            Case(Volume(image, (2.0, 1.0, 1.0)), {"cavity": cavity}, case_id=name), ds / f"{name}.ome.zarr"
        )
    (ds / "b.ome.zarr" / "zarr.json").write_text("{not json")
    (ds / "c.ome.zarr" / "zarr.json").write_text("[" * 100000 + "]" * 100000)
    next((ds / "d.ome.zarr" / "labels" / "cavity" / "s0").rglob("c/*/*/*")).unlink()
    meta = json.loads((ds / "e.ome.zarr" / "zarr.json").read_text())
    meta["attributes"]["napari_c2w"]["status"] = "done-ish"
    (ds / "e.ome.zarr" / "zarr.json").write_text(json.dumps(meta))
    (ds / "f.ome.zarr").rename(ds / ".f.ome.zarr.old-deadbeef")
    yield (
        "invalid zarr.json (b), nested 100000 deep (c), a deleted chunk (d), bad status (e)",
        ["review", "ds"],
    )
    yield "the same dataset, plus a store only an old copy is left of (f)", ["check", "ds"]
    if os.geteuid() == 0 and _mount(w / "ro", "ro,size=64k"):
        yield "read-only output folder", ["import", img, "-o", "ro"]
        yield "report --csv into a read-only folder", ["report", "ds/a.ome.zarr", "--csv", "ro/r.csv"]
    if os.geteuid() == 0 and _mount(w / "full", "size=16k"):
        yield "output folder on a full disk", ["import", img, "-o", "full"]
    yield "predict on a cut .nii.gz", ["predict", "trunc.nii.gz", "-o", "pred", "--device", "cpu"]
    yield (
        "predict --part-id 3 --num-parts 2",
        ["predict", img, "-o", "pred", "--num-parts", "2", "--part-id", "3"],
    )
    train = ["train", "--stage", "cavity", "--data", "ds", "--output", "run"]
    yield "train --val-every 0", [*train, "--val-every", "0"]
    yield "train --iterations 0", [*train, "--iterations", "0"]
    yield "train --preset huge", [*train, "--preset", "huge"]
    yield "train --device cuda (no GPU here)", [*train, "--device", "cuda"]
    yield "train on a dataset with damaged stores", train
    yield "train --resume on an empty folder", ["train", "--resume", "--output", "ds"]


def table(work: Path) -> str:
    rows = ["| input | command | message | exit |", "|---|---|---|---|"]
    for description, args in cases(work):
        message, code = run(args, work)
        shown = " ".join(str(a).replace(str(work) + "/", "") for a in args[:3])
        rows.append(f"| {description} | `{shown} ...` | {message.replace('|', '/')} | {code} |")
        print(rows[-1], flush=True)
    for folder in ("ro", "full"):
        subprocess.run(["umount", "-l", str(work / folder)], check=False, capture_output=True)
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", type=Path, help="Markdown file whose table between the markers to replace")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="c2w-bad-") as tmp:
        text = table(Path(tmp))
    if args.write:
        doc = args.write.read_text()
        head, _, rest = doc.partition(MARK)
        _, _, tail = rest.partition(MARK)
        args.write.write_text(f"{head}{MARK}\n{text}\n{MARK}{tail}")
        print(f"wrote the table to {args.write}")


if __name__ == "__main__":
    main()
