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
