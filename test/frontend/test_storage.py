"""ark/scp storage: row-range reads equal slices, int8 labels keep their type, errors."""

import numpy as np
import pytest

from espnet2_tsdia.frontend.storage import matrix_shape, read_ark_scp, read_array, read_rows, write_ark


def test_row_ranges_equal_slices_of_the_whole(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 7)).astype(np.float32)
    b = rng.standard_normal((3, 7)).astype(np.float64)
    assert write_ark(tmp_path / "f.ark", tmp_path / "f.scp", [("x", a), ("y", b)]) == 2
    index = read_ark_scp(tmp_path / "f.scp")
    assert list(index) == ["x", "y"]
    np.testing.assert_array_equal(read_rows(index["x"], 10, 20), a[10:20])
    np.testing.assert_array_equal(read_rows(index["x"], 0, 50), a)
    np.testing.assert_array_equal(read_rows(index["y"], 1, 3), b[1:3])
    assert read_rows(index["x"], 5, 5).shape == (0, 7)
    assert matrix_shape(index["x"]) == (50, 7)
    np.testing.assert_array_equal(read_array(index["x"]), a)


def test_rows_outside_the_matrix_raise(tmp_path):
    write_ark(tmp_path / "f.ark", tmp_path / "f.scp", [("x", np.zeros((4, 2), np.float32))])
    spec = read_ark_scp(tmp_path / "f.scp")["x"]
    with pytest.raises(ValueError, match=r"rows \[2, 5\) outside the stored matrix of 4 rows"):
        read_rows(spec, 2, 5)


def test_int8_labels_through_numpy_payload(tmp_path):
    labels = np.array([0, 1, 3, 2, 2], dtype=np.int8)
    write_ark(
        tmp_path / "l.ark", tmp_path / "l.scp", [("e", labels), ("m", np.eye(3, dtype=np.int8))], numpy_payload=True
    )
    index = read_ark_scp(tmp_path / "l.scp")
    got = read_array(index["e"])
    assert got.dtype == np.int8 and got.tolist() == labels.tolist()
    assert read_rows(index["m"], 1, 3).tolist() == [[0, 1, 0], [0, 0, 1]]
    assert matrix_shape(index["e"]) is None
    with pytest.raises(ValueError, match="Kaldi matrices must be float32/float64, got int8"):
        write_ark(tmp_path / "x.ark", tmp_path / "x.scp", [("e", labels)])


def test_relative_ark_paths_resolve_against_the_scp_folder(tmp_path, monkeypatch):
    write_ark(tmp_path / "f.ark", tmp_path / "f.scp", [("x", np.ones((2, 2), np.float32))])
    (tmp_path / "rel.scp").write_text((tmp_path / "f.scp").read_text().replace(str(tmp_path) + "/", ""))
    monkeypatch.chdir("/")
    spec = read_ark_scp(tmp_path / "rel.scp")["x"]
    assert read_rows(spec, 0, 2).tolist() == [[1, 1], [1, 1]]


def test_bad_scp_lines_name_the_line(tmp_path):
    (tmp_path / "bad.scp").write_text("x f.ark:12\ny f.ark\n")
    with pytest.raises(ValueError, match=r"bad.scp:2: expected '<key> <ark>:<offset>'"):
        read_ark_scp(tmp_path / "bad.scp")
