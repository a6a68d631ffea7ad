"""The npe2 reader and writer without a viewer: what they claim, read and refuse."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w._reader import napari_get_reader
from napari_c2w._writer import write_case
from napari_c2w.errors import SaveRefused
from napari_c2w.io.store import read_case_store
from napari_c2w.layers import case_layers
from testutils import write_dicom_series


def _ome_zarr_v04(path, case, labels: dict[str, np.ndarray], axes="zyx"):
    """An OME-Zarr 0.4 (zarr v2) image with labels, written by ome-zarr-py as other tools do."""
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_multiscale, write_multiscale_labels

    image = case.image.array
    scale, translation = list(case.image.spacing), list(case.image.origin)
    if len(axes) == 4:
        image, scale, translation = image[None], [1.0, *scale], [0.0, *translation]
    ct = [[{"type": "scale", "scale": scale}, {"type": "translation", "translation": translation}]]
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    write_multiscale([image], root, fmt=FormatV04(), axes=axes, coordinate_transformations=ct)
    for name, data in labels.items():
        pyramid = [data[None] if len(axes) == 4 else data]
        fmt = FormatV04()
        write_multiscale_labels(pyramid, root, name=name, fmt=fmt, axes=axes, coordinate_transformations=ct)
    return path


def test_reader_declines_a_folder_it_cannot_read(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    assert napari_get_reader(str(tmp_path)) is None
    assert napari_get_reader(str(tmp_path / "notes.txt")) is None


def test_reader_still_takes_a_dicom_folder(tmp_path, small_case):
    folder = write_dicom_series(
        small_case.image.array, tmp_path / "series", small_case.image.spacing, small_case.image.origin
    )
    (layer,) = napari_get_reader(str(folder))(str(folder))
    np.testing.assert_allclose(layer[1]["scale"], small_case.image.spacing, rtol=1e-4)


def test_reader_reads_ome_zarr_v04_with_labels(tmp_path, small_case):
    vessels = np.zeros(small_case.image.shape, np.uint8)
    vessels[2:4, 5:9, 5:9] = 7
    path = _ome_zarr_v04(
        tmp_path / "other.ome.zarr",
        small_case,
        {"wall": small_case.labels["wall"].astype(np.uint8), "vessels": vessels},
    )
    reader = napari_get_reader(str(path))
    assert reader is not None
    layers = reader(str(path))
    by_name = {kw["name"]: (data, kw, kind) for data, kw, kind in layers}
    assert set(by_name) == {"other", "wall", "vessels"}  # nothing dropped
    image, kw, kind = by_name["other"]
    assert kind == "image"
    np.testing.assert_array_equal(np.asarray(image), small_case.image.array)
    np.testing.assert_allclose(kw["scale"], small_case.image.spacing)
    np.testing.assert_allclose(kw["translate"], small_case.image.origin)
    wall = by_name["wall"]
    assert wall[2] == "labels" and set(np.unique(wall[0])) == {0, 2}
    np.testing.assert_array_equal(wall[0] > 0, small_case.labels["wall"])
    np.testing.assert_array_equal(by_name["vessels"][0], vessels)  # values kept as they are


def test_reader_leaves_non_3d_ome_zarr_to_other_readers(tmp_path, small_case):
    path = _ome_zarr_v04(tmp_path / "czyx.ome.zarr", small_case, {}, axes="czyx")
    assert napari_get_reader(str(path)) is None


def test_layers_carry_units_and_axis_labels(small_case):
    for _data, kwargs, _kind in case_layers(small_case):
        assert tuple(kwargs["units"]) == ("mm", "mm", "mm")
        assert tuple(kwargs["axis_labels"]) == ("z", "y", "x")


def _image(case, name="ball"):
    meta = {"name": name, "scale": case.image.spacing, "translate": case.image.origin}
    return (case.image.array, meta, "image")


def _labels(data, name, **meta):
    return (np.asarray(data), {"name": name, "metadata": meta}, "labels")


def test_writer_splits_a_multi_label_layer_by_the_value_map(tmp_path, small_case):
    lab = small_case.labels
    multi = np.where(lab["cavity"], 1, np.where(lab["wall"], 2, 0)).astype(np.uint8)
    (out,) = write_case(str(tmp_path / "b.ome.zarr"), [_image(small_case), _labels(multi, "Labels")])
    case = read_case_store(out)
    assert case.structures == ["cavity", "wall"]
    np.testing.assert_array_equal(case.labels["cavity"], lab["cavity"])
    np.testing.assert_array_equal(case.labels["wall"], lab["wall"])


def test_writer_refuses_a_structure_layer_holding_several_values(tmp_path, small_case):
    lab = small_case.labels
    two = np.where(lab["cavity"], 1, np.where(lab["wall"], 2, 0)).astype(np.uint8)
    with pytest.raises(SaveRefused, match=r"'cavity'.*values 1, 2"):
        write_case(str(tmp_path / "b.ome.zarr"), [_image(small_case), _labels(two, "cavity")])
    assert not (tmp_path / "b.ome.zarr").exists()


def test_writer_refuses_layers_it_cannot_place(tmp_path, small_case):
    odd = small_case.labels["wall"].astype(np.uint8) * 7
    with pytest.raises(SaveRefused, match=r"'Labels'.*7"):
        write_case(str(tmp_path / "b.ome.zarr"), [_image(small_case), _labels(odd, "Labels")])
    both = [_labels(small_case.labels["wall"], "wall"), _labels(small_case.labels["wall"], "wall [1]")]
    with pytest.raises(SaveRefused, match=r"'wall', 'wall \[1\]'"):
        write_case(str(tmp_path / "b.ome.zarr"), [_image(small_case), *both])


def test_writer_places_by_name_then_metadata_and_skips_empty_and_helper_layers(tmp_path, small_case):
    lab = small_case.labels
    layers = [
        _image(small_case),
        _labels(lab["wall"] * 2, "renamed", napari_c2w={"structure": "wall"}),  # metadata the reader set
        _labels(lab["scar"] * 3, "scar", napari_c2w={"structure": "wall"}),  # renamed by the user: name wins
        _labels(np.zeros_like(lab["wall"], np.uint8), "Labels"),  # napari's new empty layer
        _labels(lab["cavity"] * 5, "review band", napari_c2w_role="review band"),  # a widget's helper
    ]
    (out,) = write_case(str(tmp_path / "b.ome.zarr"), layers)
    case = read_case_store(out)
    assert case.structures == ["wall", "scar"]
    np.testing.assert_array_equal(case.labels["scar"], lab["scar"])


def test_reader_layers_carry_their_structure_in_metadata(small_case):
    for _data, kwargs, kind in case_layers(small_case):
        if kind == "labels":
            assert kwargs["metadata"]["napari_c2w"]["structure"] == kwargs["name"]


def test_writer_says_when_it_renames_the_store(tmp_path, small_case):
    with pytest.warns(UserWarning, match=r"b\.zarr.*b\.ome\.zarr"):
        (out,) = write_case(str(tmp_path / "b.zarr"), [_image(small_case)])
    assert out == str(tmp_path / "b.ome.zarr")


def test_widgets_are_in_napari_layer_menus():
    from importlib.resources import files

    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(str(files("napari_c2w") / "napari.yaml"))
    menus = {k: [c.command for c in v] for k, v in manifest.contributions.menus.items()}
    assert menus["napari/layers/segment"] == ["napari-c2w.segment"]
    assert "napari-c2w.quantify" in menus["napari/layers/measure"]
    assert "napari-c2w.review_annotations" in menus["napari/layers/annotate"]


def test_layer_objects_and_tuples_make_the_same_case_with_its_direction(small_case):
    """The layer adapter reads a layer object (duck-typed) as its data tuple: the volume keeps the
    direction the reader put in the metadata, and the masks and case are the same either way."""
    import dataclasses
    import types

    from napari_c2w.layers import case_from_layers, layer_mask, layer_volume

    flipped = dataclasses.replace(small_case.image, direction=(-1.0, 0, 0, 0, -1.0, 0, 0, 0, 1.0))
    case = dataclasses.replace(small_case, image=flipped)
    tuples = case_layers(case)

    def as_object(item):
        data, kwargs, _ = item
        return types.SimpleNamespace(
            data=data, name=kwargs["name"], scale=kwargs["scale"], translate=kwargs["translate"],
            metadata=kwargs["metadata"],
        )  # fmt: skip

    objects = [as_object(t) for t in tuples]
    assert layer_volume(objects[0]).direction == flipped.direction
    assert layer_volume(tuples[0]).geometry() == flipped.geometry()
    np.testing.assert_array_equal(layer_mask(objects[2]), small_case.labels["wall"])
    from_objects = case_from_layers(objects[0], objects[1:])
    from_tuples = case_from_layers(tuples[0], tuples[1:])
    assert from_objects.image.geometry() == from_tuples.image.geometry() == flipped.geometry()
    assert from_objects.case_id == from_tuples.case_id == "ball"
    for s in small_case.labels:
        np.testing.assert_array_equal(from_objects.labels[s], from_tuples.labels[s])
