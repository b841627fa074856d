"""diarize's picture: exact size, speakers drawn, clear errors."""

import struct

import numpy as np
import pytest

from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.inference.result_picture import picture_height_px, plot_result


def png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_picture_has_the_promised_size(tmp_path):
    turns = [Turn("m", 0.5, 2.0, "alice"), Turn("m", 3.0, 1.0, "bob")]
    probs = {"alice": np.linspace(0, 1, 50), "bob": np.linspace(1, 0, 50)}
    out = tmp_path / "p" / "m.png"
    plot_result(
        turns, out, reco="m", duration=5.0, speakers=["alice", "bob", "carol"], probabilities=probs, threshold=0.5
    )
    assert png_size(out) == (1600, picture_height_px(3)) == (1600, 344)


def test_picture_without_turns_or_probabilities(tmp_path):
    out = tmp_path / "empty.png"
    plot_result([], out, reco="m", duration=2.0, speakers=["alice"], width_px=800)
    assert png_size(out) == (800, picture_height_px(1))


def test_picture_errors(tmp_path):
    with pytest.raises(ValueError, match=r"turns of speakers not in \['alice'\]: \['bob'\]"):
        plot_result([Turn("m", 0.0, 1.0, "bob")], tmp_path / "x.png", reco="m", duration=2.0, speakers=["alice"])
    with pytest.raises(ValueError, match="duration must be > 0"):
        plot_result([], tmp_path / "x.png", reco="m", duration=0.0, speakers=["alice"])
    with pytest.raises(ValueError, match="different shapes"):
        plot_result(
            [],
            tmp_path / "x.png",
            reco="m",
            duration=1.0,
            speakers=["a", "b"],
            probabilities={"a": np.zeros(3), "b": np.zeros(4)},
        )
