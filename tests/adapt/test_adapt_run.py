"""``adapt`` end to end on scans without labels: pseudo-labels from the quality gate, a model
folder that ``predict --models RUN`` takes, a per-case record, nothing overwritten."""

from __future__ import annotations

import json

import pytest

from napari_c2w.errors import InputError


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """Three phantom scans stored without labels (a site's unlabelled scans)."""
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom

    folder = tmp_path_factory.mktemp("site")
    for seed in (1, 2, 3):
        case = generate_phantom(seed, shape=(40, 96, 96), spacing=(1.25, 1.0, 1.0)).to_case()
        case.labels = {}
        write_case_store(case, store_path(folder, case.case_id))
    return folder


@pytest.fixture(scope="module")
def adapted(scans, tmp_path_factory):
    from napari_c2w.adapt import AdaptOptions, Gate, adapt

    run = tmp_path_factory.mktemp("adapt") / "run"
    steps = []
    options = AdaptOptions(iterations=2, phantoms=1, gate=Gate(cavity_score_below=0.35), device="cpu")
    record = adapt(scans, run, options, progress=lambda f, m: steps.append((f, m)))
    return run, record, steps


def test_adapt_trains_on_the_scans_that_pass_and_records_every_case(adapted):
    run, record, steps = adapted
    assert (run / "cavity.pt").is_file() and record["adapted"] == ["cavity"]
    served = record["rounds"][0]["served"]["cavity"]
    assert served, "phantoms segmented by the bundled models pass the quality checks"
    assert set(served) <= set(record["rounds"][0]["reasons"])
    assert [row["case"] for row in record["cases"]] == sorted(record["rounds"][0]["reasons"])
    for row in record["cases"]:
        assert row["use"] in ("adapted", "bundled") and row["why"]
        assert 0.0 <= row["agreement"]["cavity"] <= 1.0
    assert json.loads((run / "adapt.json").read_text())["cases"] == record["cases"]
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    training = run / "rounds" / "1" / "cavity"
    assert (training / "best.pt").is_file(), "the round's training run folder is kept"


def test_the_run_is_a_model_folder_for_predict_and_train(adapted):
    from napari_c2w.infer import load_model_set
    from napari_c2w.train.init import resolve_init

    run, _, _ = adapted
    models = load_model_set([run])
    assert models["cavity"].path == run / "cavity.pt"
    assert models["wall"].path.name == "wall.pt" and models["wall"].path.parent != run  # bundled
    assert resolve_init(str(run), "cavity").path == run / "cavity.pt", "napari-c2w-train --from RUN"


def test_an_existing_run_folder_is_never_overwritten(adapted, scans):
    from napari_c2w.adapt import adapt

    run, _, _ = adapted
    before = (run / "adapt.json").read_bytes()
    with pytest.raises(InputError, match="already exists"):
        adapt(scans, run)
    assert (run / "adapt.json").read_bytes() == before


def test_too_few_passing_scans_stop_the_stage_with_a_reason(scans, tmp_path):
    from napari_c2w.adapt import AdaptOptions, adapt

    record = adapt(
        scans, tmp_path / "run", AdaptOptions(iterations=1, phantoms=0, min_cases=10, device="cpu")
    )
    assert record["adapted"] == [] and not (tmp_path / "run" / "cavity.pt").exists()
    assert "at least 10 needed" in record["rounds"][0]["skipped"]["cavity"]
    assert all(row["use"] == "bundled" and row["why"] == "no stage was adapted" for row in record["cases"])
