"""``pip install napari-c2w`` without napari, magicgui or Qt: the CLI, inference and training import."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = (
    "napari",
    "magicgui",
    "qtpy",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
    "superqt",
    "app_model",
    "vispy",
)

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = {blocked!r}

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: headless install)")
            return None

    sys.meta_path.insert(0, Absent())
    import napari_c2w.cli, napari_c2w.cli.export_cmd, napari_c2w.train.cli, napari_c2w.train.api
    import napari_c2w.infer.pipeline, napari_c2w.io.export, napari_c2w.review, napari_c2w._reader
    from napari_c2w.cli import build_parser
    from napari_c2w.train.cli import build_parser as build_train_parser

    build_parser(), build_train_parser()
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print("LEAKED", leaked)
    """
).format(blocked=BLOCKED)


def test_cli_inference_and_training_import_without_napari_or_qt():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=False, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "LEAKED []" in result.stdout


def test_the_blocker_blocks():
    script = SCRIPT.replace("import napari_c2w.cli,", "import napari, napari_c2w.cli,")
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0 and "blocked: headless install" in result.stderr


def test_semisynthetic_cases_count_as_synthetic_wall_labels():
    from napari_c2w.infer.models import synthetic_label_caveat, synthetic_labels_only
    from napari_c2w.io.case import has_synthetic_wall, semisynthetic_case_id

    assert has_synthetic_wall(semisynthetic_case_id("06SR5RBREL16DQ6M8LWS", 5000))
    assert has_synthetic_wall("phantom_0003") and not has_synthetic_wall("06SR5RBREL16DQ6M8LWS")
    assert not has_synthetic_wall("-ss12") and not has_synthetic_wall("case-ssx")
    meta = {"training_data": {"train_cases": ["phantom_0001", "AB-ss3"]}}
    assert synthetic_labels_only(meta) is True
    meta["training_data"]["train_cases"].append("REALWALL01")
    assert synthetic_labels_only(meta) is False
    assert synthetic_labels_only({}) is None
    assert synthetic_label_caveat({"wall": {"synthetic_labels_only": False}}) == ""
    assert "wall model never saw" in synthetic_label_caveat({"wall": {"synthetic_labels_only": True}})
