from pathlib import Path

import numpy as np
import pytest

from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.simulate.config import (
    EendBetaModel,
    Histogram,
    HistogramModel,
    SimulationConfig,
    load_set_configs,
    turn_model_from_dict,
)

RECIPE_CONF = Path(__file__).resolve().parents[2] / "egs2" / "mini_librispeech" / "diar1" / "conf" / "simu"


def test_defaults_and_normalisation():
    c = SimulationConfig(name="a", num_conversations=3, speaker_counts={2: 1, 3: 3})
    assert c.speaker_counts == ((2, 0.25), (3, 0.75))
    assert c.max_speakers == 3
    assert isinstance(c.turn_model, EendBetaModel) and c.turn_model.sil_scale == 2.0
    assert SimulationConfig(name="a", num_conversations=1, speaker_counts=[0, 1, 1]).speaker_counts == (
        (2, 0.5),
        (3, 0.5),
    )
    # yaml-style strings for numbers
    assert SimulationConfig(
        name="a", num_conversations=1, overlap_range=["5e-2", "0.1"], speaker_counts={2: 1}
    ).overlap_range == (0.05, 0.1)


def test_one_speaker_overlap_error():
    with pytest.raises(ValueError, match=r"no 1-speaker conversation can reach.*probability 0.5"):
        SimulationConfig(name="a", num_conversations=1, speaker_counts={1: 1, 2: 1}, overlap_range=(0.1, 0.2))
    # a range starting at 0 is fine with 1-speaker conversations
    SimulationConfig(name="a", num_conversations=1, speaker_counts={1: 1, 2: 1}, overlap_range=(0.0, 0.2))


@pytest.mark.parametrize(
    "kw, match",
    [
        (
            {"overlap_range": (10, 20)},
            r"overlap_range: expected 0 <= min <= max <= 1 \(ratios, not percent\), got \(10, 20\)",
        ),
        ({"overlap_range": (0.3, 0.1)}, r"overlap_range.*got \(0.3, 0.1\)"),
        ({"fs": 22050}, r"fs: expected a positive multiple of 1000 Hz.*got 22050"),
        ({"min_utts": 5, "max_utts": 2}, r"min_utts/max_utts.*got 5 and 2"),
        ({"speaker_counts": {0: 1}}, r"speaker count must be an integer >= 1, got 0"),
        ({"speaker_counts": {2: -1}}, r"weight of 2 speakers must be >= 0"),
        ({"total_hours": 3}, r"exactly one of num_conversations and total_hours"),
        ({"noise_dir": "x"}, r"noise_snrs is empty"),
        ({"gain_db": (3, -3)}, r"gain_db: expected \[min, max\]"),
        ({"name": "a b"}, r"name: expected letters"),
        (
            {"turn_model": {"type": "nope"}},
            r"turn_model.type: expected one of \['eend_beta', 'histogram'\], got 'nope'",
        ),
        ({"turn_model": {"type": "eend_beta", "beta": 2}}, r"unknown keys \['beta'\]"),
        ({"turn_model": {"type": "eend_beta", "sil_scale": 0}}, r"sil_scale: expected > 0 seconds, got 0"),
        ({"max_silence_ratio": 0}, r"max_silence_ratio: expected 0 < ratio <= 1"),
        ({"overlap_target": "even"}, r"overlap_target: expected one of \['natural', 'uniform'\], got 'even'"),
    ],
)
def test_bad_values_name_field_and_value(kw, match):
    base = {"name": "a", "num_conversations": 2, "speaker_counts": {2: 1}}
    with pytest.raises(ValueError, match=match):
        SimulationConfig(**{**base, **kw})


def test_histogram_validation_and_quantile():
    with pytest.raises(ValueError, match=r"len\(edges\) == len\(counts\) \+ 1"):
        Histogram(edges=(0, 1), counts=(1, 2))
    with pytest.raises(ValueError, match=r"increasing values >= 0, got \[0.0, 2.0, 1.0\]"):
        Histogram(edges=(0, 2, 1), counts=(1, 1))
    with pytest.raises(ValueError, match="positive sum"):
        Histogram(edges=(0, 1), counts=(0,))
    h = Histogram(edges=(0, 1, 3), counts=(1, 3))
    # cdf: 0 -> 0, 0.25 -> 1, 1 -> 3 (piecewise linear)
    np.testing.assert_allclose(h.quantile(np.array([0.0, 0.125, 0.25, 0.625, 1.0])), [0.0, 0.5, 1.0, 2.0, 3.0])
    assert h.mean == pytest.approx((0.5 * 1 + 2 * 3) / 4)


def test_histogram_model_from_turns_exact():
    T = lambda on, d, s: Turn("r", on, d, s)  # noqa: E731
    # A 0-2, B 1.5-3 (overlap 0.5), B 3.2-4 (same pause 0.2), A 4.7-5 (diff pause 0.7)
    m = HistogramModel.from_turns(
        [T(0, 2, "A"), T(1.5, 1.5, "B"), T(3.2, 0.8, "B"), T(4.7, 0.3, "A")],
        pause_edges=(0, 0.5, 1),
        overlap_edges=(0, 1),
    )
    assert m.pause_same.counts == (1.0, 0.0)
    assert m.pause_diff.counts == (0.0, 1.0)
    assert m.overlap.counts == (1.0,)
    assert m.p_overlap == 0.5
    assert (
        HistogramModel(
            pause_same=m.pause_same, pause_diff=m.pause_diff, overlap=m.overlap, overlap_probability=0.2
        ).p_overlap
        == 0.2
    )


def test_yaml_common_and_sets(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(
        "common:\n  fs: 8000\n  total_hours: 2\n  turn_model: {type: eend_beta, sil_scale: 3}\n"
        "sets:\n  - {name: a, speaker_counts: {2: 1}, overlap_range: [0.1, 0.2]}\n"
        "  - {name: b, num_conversations: 5, speaker_counts: [1, 1]}\n"
    )
    a, b = load_set_configs(p)
    assert (a.total_hours, a.num_conversations, a.turn_model.sil_scale) == (2.0, None, 3.0)
    assert (b.total_hours, b.num_conversations) == (None, 5)
    with pytest.raises(ValueError, match="holds 2 sets"):
        SimulationConfig.from_yaml(p)
    p.write_text("sets:\n  - {name: a, num_conversations: 1, speaker_counts: {2: 1}, overlap: [0, 1]}\n")
    with pytest.raises(ValueError, match=r"s.yaml: set 'a': unknown keys \['overlap'\]"):
        load_set_configs(p)
    p.write_text("sets:\n  - {name: a, num_conversations: 1, speaker_counts: {1: 1}, overlap_range: [0.05, 0.1]}\n")
    with pytest.raises(ValueError, match=r"s.yaml: set 'a':.*1-speaker"):
        load_set_configs(p)
    p.write_text("sets:\n  - {name: a, num_conversations: 1}\n  - {name: a, num_conversations: 2}\n")
    with pytest.raises(ValueError, match=r"duplicate set names \['a'\]"):
        load_set_configs(p)


def test_round_trip_dict_and_overrides():
    hm = turn_model_from_dict(
        {
            "type": "histogram",
            "pause_same": {"edges": [0, 1], "counts": [1]},
            "pause_diff": {"edges": [0, 1], "counts": [2]},
            "overlap": {"edges": [0, 1], "counts": [2]},
        }
    )
    c = SimulationConfig(
        name="a", total_hours=1.5, speaker_counts={2: 1, 4: 1}, turn_model=hm, noise_snrs=[5, 10], gain_db=[-1, 1]
    )
    assert SimulationConfig.from_dict(c.to_dict()) == c
    d = c.with_overrides(num_conversations=4)
    assert (d.num_conversations, d.total_hours) == (4, None)
    with pytest.raises(ValueError, match="unknown SimulationConfig keys"):
        c.with_overrides(bogus=1)


def test_recipe_yamls_load():
    files = sorted(RECIPE_CONF.glob("*.yaml"))
    assert files, f"no yaml in {RECIPE_CONF}"
    for f in files:
        sets = load_set_configs(f)
        assert sets and all(s.source for s in sets), f


def test_recipe_sets_are_reachable():
    """Every recipe set generates conversations inside its targets (in-memory LibriSpeech-like table)."""
    from espnet2_tsdia.data.stats import recording_stats
    from espnet2_tsdia.simulate.generate import Tables, generate_conversation, record_turns
    from espnet2_tsdia.simulate.sources import _build

    rng = np.random.default_rng(0)
    rows = [
        (f"{1000 + k}-1-{j:04d}", str(1000 + k), f"/x/{k}-{j}.flac", 0, int(rng.uniform(4, 20) * 16000), 16000)
        for k in range(29)
        for j in range(20)
    ]
    tables = Tables(sources=_build(rows), noises=None, rirs=None)
    pools = tables.speaker_pools()
    for f in sorted(RECIPE_CONF.glob("*.yaml")):
        for c in load_set_configs(f):
            lo, hi = c.overlap_range
            for i in range(3):
                rec = generate_conversation(c, tables, i, pools)
                st = recording_stats(record_turns(rec, tables.sources.length_ms), rec["dur"] / 1000, reco=rec["id"])
                assert lo - 1e-9 <= st.overlap_ratio <= hi + 1e-9, (f.name, c.name)
                assert st.num_speakers in dict(c.speaker_counts), (f.name, c.name)
