"""Conventions every command follows: help on each argument, -o/--output, --version, -v anywhere."""

from __future__ import annotations

import argparse

import pytest

from napari_c2w.cli import build_parser, main
from napari_c2w.train.cli import build_parser as build_train_parser


def _parsers():
    top = build_parser()
    yield "napari-c2w", top
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"napari-c2w {name}", sub
    yield "napari-c2w-train", build_train_parser()


PARSERS = dict(_parsers())


@pytest.mark.parametrize("prog", list(PARSERS))
def test_every_argument_has_help_and_no_literal_percent(prog):
    parser = PARSERS[prog]
    missing = [
        a.dest
        for a in parser._actions
        if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not a.help
    ]
    assert missing == [], f"{prog}: arguments without help: {missing}"
    assert "%%" not in parser.format_help()


@pytest.mark.parametrize("prog", [p for p in PARSERS if p.count(" ") == 1])
def test_outputs_are_named_o_or_output(prog):
    parser = PARSERS[prog]
    outputs = [a for a in parser._actions if {"--csv", "--out", "--output", "-o"} & set(a.option_strings)]
    for action in outputs:
        assert {"-o", "--output"} <= set(action.option_strings), f"{prog}: {action.option_strings}"


def test_old_output_forms_are_still_accepted(tmp_path):
    report = PARSERS["napari-c2w report"]
    assert (
        report.parse_args(["ds", "--csv", "a.csv"]).output == report.parse_args(["ds", "-o", "a.csv"]).output
    )


def test_train_version(capsys):
    from napari_c2w import __version__
    from napari_c2w.train.cli import main as train_main

    with pytest.raises(SystemExit) as exit_:
        train_main(["--version"])
    assert exit_.value.code == 0 and __version__ in capsys.readouterr().out


def test_verbose_after_the_subcommand(tmp_path):
    for name in ("import", "export", "review", "report", "predict", "phantom"):
        sub = PARSERS[f"napari-c2w {name}"]
        assert any("-v" in a.option_strings for a in sub._actions), name
    parser = build_parser()
    assert parser.parse_args(["phantom", "-o", "ph", "-v"]).verbose is True
    assert parser.parse_args(["-v", "phantom", "-o", "ph"]).verbose is True
    assert parser.parse_args(["phantom", "-o", "ph"]).verbose is False


def test_phantom_offers_no_benchmark_contrast_profile():
    parser = build_parser()
    assert parser.parse_args(["phantom", "-o", "ph", "--contrast", "wide"]).contrast == "wide"
    with pytest.raises(SystemExit):  # other-protocol is a benchmark family, not a product choice
        parser.parse_args(["phantom", "-o", "ph", "--contrast", "other-protocol"])


def test_phantom_takes_o_and_the_old_positional(tmp_path):
    assert main(["phantom", "-o", str(tmp_path / "a"), "--shape", "16", "48", "48"]) == 0
    assert main(["phantom", str(tmp_path / "b"), "--shape", "16", "48", "48"]) == 0
    counts = [len(list((tmp_path / d).glob("*.ome.zarr"))) for d in "ab"]
    assert counts == [1, 1]
    assert main(["phantom", str(tmp_path / "b"), "-o", str(tmp_path / "c")]) == 2  # twice: refused


def test_report_names_the_surface_dice_column_after_its_tolerance(small_case):
    from napari_c2w.review.report import case_row, columns

    cols = columns(True, tolerance_mm=2.0)
    assert "scar_surface_dice_2mm" in cols and not any("1mm" in c for c in cols)
    row = case_row(small_case, small_case, with_reference=True, tolerance_mm=2.0)
    assert row["scar_surface_dice_2mm"] == 1.0 and set(row) <= set(cols)
    assert "wall_surface_dice_1mm" in columns(True)  # the default tolerance


# ------------------------------------------------------------------ pipes: data on stdout only


def _store(tmp_path, case, name="ball"):
    from napari_c2w.io import Case
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store

    case = Case(case.image, dict(case.labels), case_id=name)
    return write_case_store(case, store_path(tmp_path / "ds", name))


def test_import_prints_the_stores_it_wrote_and_nothing_else_on_stdout(tmp_path, small_case, capsys):
    from napari_c2w.io.volumewrite import write_volume

    files = [write_volume(small_case.image, tmp_path / f"scan{k}.nrrd") for k in range(2)]
    assert main(["import", *map(str, files), "-o", str(tmp_path / "ds")]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(tmp_path / "ds" / f"scan{k}.ome.zarr") for k in range(2)]
    assert "import: 2 case(s) done" in err


def test_report_dash_writes_the_csv_to_stdout(tmp_path, small_case, capsys):
    import csv
    import io

    store = _store(tmp_path, small_case)
    assert main(["report", str(store), "-o", "-"]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["case_id"] for r in rows] == ["ball"] and float(rows[0]["cavity_ml"]) > 0
    assert "report: wrote 1 row(s) to stdout" in err
    assert not (tmp_path / "-").exists() and not list(tmp_path.glob("-*"))


def test_check_json(tmp_path, small_case, capsys):
    import json

    store = _store(tmp_path, small_case)
    assert main(["check", str(store.parent), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stores"] == [{"path": str(store), "ok": True, "problems": [], "notes": []}]
    (store / "zarr.json").write_text("{")
    assert main(["check", str(store.parent), "--json"]) == 1
    (entry,) = json.loads(capsys.readouterr().out)["stores"]
    assert entry["ok"] is False and entry["problems"]


def test_review_json(tmp_path, small_case, capsys):
    import json

    import numpy as np

    scar = np.array(small_case.labels["scar"], bool)
    scar[0, 0:3, 0:3] = True  # far outside the wall band
    case = type(small_case)(small_case.image, {**small_case.labels, "scar": scar}, case_id="ball")
    store = _store(tmp_path, case)
    assert main(["review", str(store), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["cases"]
    assert entry["case_id"] == "ball" and entry["path"] == str(store)
    assert any(f["structure"] == "scar" and f["voxels"] >= 9 for f in entry["findings"])
    assert main(["review", str(store), "--clean", "--dry-run", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["cases"]
    assert entry["voxels_removed"] >= 9 and entry["written"] is False
    assert main(["review", str(tmp_path / "ds" / "missing.ome.zarr"), "--json"]) == 2


def test_predict_prints_outputs_and_writes_its_run_summary(tmp_path, small_case, capsys):
    import json

    from napari_c2w.io.volumewrite import write_volume
    from testutils import write_model_set

    models = write_model_set(tmp_path / "models")
    files = [write_volume(small_case.image, tmp_path / f"c{k}.nrrd") for k in range(2)]
    argv = [
        "predict",
        *map(str, files),
        "--models",
        str(models),
        "--device",
        "cpu",
        "--window",
        "8",
        "16",
        "16",
    ]
    assert main([*argv, "-o", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(tmp_path / "out" / f"c{k}.ome.zarr") for k in range(2)]
    summary = json.loads((tmp_path / "out" / "predict_summary.json").read_text())
    assert [c["case_id"] for c in summary["cases"]] == ["c0", "c1"]
    for case in summary["cases"]:
        assert case["status"] == "done" and case["output"].endswith(".ome.zarr")
        assert {"score", "flagged", "warnings"} <= set(case["quality"]) and case["seconds"] > 0
        assert case["timings_s"]
    assert summary["models"]["wall"]["preset"] == "tiny" and summary["seconds"] > 0
    assert {k: summary["counts"][k] for k in ("done", "skipped", "failed")} == {
        "done": 2,
        "skipped": 0,
        "failed": 0,
    }
    assert "predict_summary.json" in err
    # --json: the same summary on stdout; --resume carries the finished cases' records over
    assert main([*argv, "-o", str(tmp_path / "out"), "--resume", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in doc["cases"]] == ["skipped", "skipped"]
    assert doc["cases"][0]["quality"] == summary["cases"][0]["quality"]
    assert json.loads((tmp_path / "out" / "predict_summary.json").read_text()) == doc


def test_commands_with_machine_readable_output_take_json():
    for name in ("review", "check", "predict"):
        sub = PARSERS[f"napari-c2w {name}"]
        assert any("--json" in a.option_strings for a in sub._actions), name
