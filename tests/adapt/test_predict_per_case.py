"""``predict --models RUN`` of an adapt run uses the bundled models for the cases its
``adapt.json`` keeps on them, and says so in the run summary."""

from __future__ import annotations

import json

from testutils import write_model_set


def test_predict_keeps_the_cases_adapt_kept_on_the_bundled_models(tmp_path):
    from napari_c2w.cli import main
    from napari_c2w.io.store import store_path
    from napari_c2w.io.storewrite import write_case_store
    from napari_c2w.phantom import generate_phantom

    scans = tmp_path / "scans"
    for name, seed in (("kept", 1), ("moved", 2)):
        case = generate_phantom(seed, shape=(24, 64, 64), spacing=(2.5, 1.25, 1.25)).to_case()
        case.case_id, case.labels = name, {}
        write_case_store(case, store_path(scans, name))
    run = write_model_set(tmp_path / "run")  # stands for an adapt run's model folder
    rows = [
        {"case": "kept", "use": "bundled", "why": "the adapted cavity is flagged"},
        {"case": "moved", "use": "adapted", "why": "alike"},
    ]
    (run / "adapt.json").write_text(json.dumps({"cases": rows}))
    out = tmp_path / "pred"
    assert main(["predict", str(scans), "--models", str(run), "-o", str(out), "--device", "cpu"]) == 0
    summary = {c["case_id"]: c for c in json.loads((out / "predict_summary.json").read_text())["cases"]}
    assert summary["kept"]["models_used"] == "bundled: the adapted cavity is flagged"
    assert "models_used" not in summary["moved"]
    from napari_c2w.io.store import read_case_store

    def cavity_model(name):
        entries = [
            e for e in read_case_store(out / f"{name}.ome.zarr").provenance if e.get("action") == "predict"
        ]
        return json.dumps(entries)

    assert str(run / "cavity.pt") not in cavity_model("kept")
    assert str(run / "cavity.pt") in cavity_model("moved")
