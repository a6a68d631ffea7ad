"""Pure work in a child interpreter: the result or the exception comes back, nothing else runs."""

from __future__ import annotations

import numpy as np
import pytest

from napari_c2w._subprocess import call
from napari_c2w.errors import InputError
from napari_c2w.io.case import check_case_id
from napari_c2w.labels import to_mask


def test_the_result_comes_back():
    labels = np.zeros((4, 5, 6), np.uint8)
    labels[1, 2, 3] = 3
    np.testing.assert_array_equal(call(to_mask, labels), to_mask(labels))


def test_the_exception_comes_back():
    with pytest.raises(InputError, match="not a plain name"):
        call(check_case_id, "../x")


def test_only_napari_c2w_functions_are_called():
    with pytest.raises(RuntimeError, match="not a napari-c2w function"):
        call(np.zeros, 3)
