"""The stock-EEND baseline path (local/eend_baseline.sh) end to end on a handful of synthetic
conversations: inputs from data/<set> (features extracted from wav.scp, since no tsdia.sh stage
3 ran), ESPnet's diar_train for SA-EEND and EEND-EDA (one epoch of a tiny model), decoding to
RTTM, scoring with tsdia_score, and the summary tables."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile as sf

from espnet2_tsdia.formats.rttm import Turn, read_rttm, write_rttm
from espnet2_tsdia.frontend.storage import read_ark_scp, read_array
from test.recipes.helpers import check, need_install, run, scratch_recipe

FS = 8000
ROW = r"^\| {name} \| (\d+\.\d\d) \| (\d+\.\d\d) \| (\d+\.\d\d) \| (\d+\.\d\d) \|$"
TINY = (
    "--batch_size 2 --encoder_conf output_size=16 --encoder_conf linear_units=32 --encoder_conf num_blocks=1 "
    "--encoder_conf attention_heads=2 --attractor_conf unit=16 --log_interval 1"
)


def conversation(rng, reco: str, speakers: List[str], seconds: float) -> Tuple[np.ndarray, List[Turn]]:
    """Each speaker a harmonic tone of its own pitch in noise, talking in 1-2 s turns that overlap."""
    n = int(seconds * FS)
    x = 0.01 * rng.standard_normal(n)
    t = np.arange(n) / FS
    turns = []
    onset = 0.0
    while onset < seconds - 1.0:
        spk = speakers[len(turns) % len(speakers)]
        dur = min(float(rng.uniform(1.0, 2.0)), seconds - onset)
        f0 = 120.0 * (1 + speakers.index(spk)) * (1.3 if spk.endswith("b") else 1.0)
        a, b = int(onset * FS), int((onset + dur) * FS)
        x[a:b] += 0.2 * sum(np.sin(2 * np.pi * k * f0 * t[a:b]) / k for k in (1, 2, 3))
        turns.append(Turn(reco=reco, onset=round(onset, 3), duration=round(dur, 3), speaker=spk))
        onset += dur - float(rng.uniform(0.0, 0.4))  # overlaps the next turn a little
    return x.astype(np.float32), turns


def make_set(root: Path, name: str, counts: List[int], seed: int) -> Dict[str, List[Turn]]:
    rng = np.random.default_rng(seed)
    d = root / "data" / name
    wav = root / "wav" / name
    d.mkdir(parents=True)
    wav.mkdir(parents=True)
    scp, turns = [], {}
    for i, c in enumerate(counts):
        reco = f"{name}-{i:03d}"
        x, ts = conversation(rng, reco, [f"s{j}{'ab'[i % 2]}" for j in range(c)], float(rng.uniform(6.0, 9.0)))
        sf.write(wav / f"{reco}.wav", x, FS, subtype="PCM_16")
        scp.append(f"{reco} {wav / f'{reco}.wav'}\n")
        turns[reco] = ts
    (d / "wav.scp").write_text("".join(scp))
    write_rttm(d / "rttm", [t for ts in turns.values() for t in ts])
    return turns


@pytest.mark.slow
def test_eend_baseline_trains_decodes_and_scores(tmp_path):
    need_install()
    recipe = scratch_recipe(tmp_path, "offline_demo")
    make_set(recipe, "train", [2, 3, 2, 3, 2, 2], seed=1)
    make_set(recipe, "dev", [2, 3], seed=2)
    ref = make_set(recipe, "test", [2, 3], seed=3)

    check(run(["local/eend_baseline.sh", "--max_epoch", "1", "--train_args", TINY], recipe, timeout=1200))

    exp = recipe / "exp"
    for model, modes in (("sa", ["model"]), ("eda", ["estimated", "oracle"])):
        wall, user, sys_ = (float(v) for v in (exp / f"eend_{model}" / "train.time").read_text().split())
        assert wall > 0 and user + sys_ > 0
        summary = (exp / f"eend_{model}" / "RESULTS.md").read_text()
        assert "## test" in summary and "collar 0, overlap scored" in summary
        for mode in modes:
            out = exp / f"eend_{model}" / f"decode_{mode}" / "test"
            # posteriors of every test recording, one row per frame of its audio
            post = {k: read_array(v) for k, v in read_ark_scp(out / "posteriors.scp").items()}
            assert sorted(post) == sorted(ref)
            for reco, p in post.items():
                n = sf.info(str(recipe / "wav" / "test" / f"{reco}.wav")).frames
                assert p.shape[0] == n // 800 and ((p >= 0) & (p <= 1)).all()
            outputs = dict(line.split() for line in (out / "reco2num_spk").read_text().splitlines())
            if mode == "model":  # SA-EEND: as many outputs as the most speakers of a training recording
                assert set(outputs.values()) == {"3"} and {p.shape[1] for p in post.values()} == {3}
            elif mode == "oracle":
                assert outputs == {r: str(len({t.speaker for t in ts})) for r, ts in ref.items()}
            hyp = read_rttm(out / "hyp.rttm")
            assert {t.reco for t in hyp} <= set(ref)
            # the hypothesis is scored against the reference: the summary row is the scorer's overall row
            result = json.loads((out / "score" / "result.json").read_text())
            assert result["protocol"]["collar_per_side"] == 0.0 and not result["protocol"]["skip_overlap"]
            assert sorted(r["reco"] for r in result["recordings"]) == sorted(ref)
            speech = sum(t.duration for ts in ref.values() for t in ts)
            assert result["overall"]["scored_speech"] == pytest.approx(speech, rel=0.2)  # overlaps count twice
            name = {"model": "SA-EEND (3 outputs)", "estimated": "EEND-EDA (speaker count estimated)"}.get(
                mode, "EEND-EDA (oracle speaker count)"
            )
            m = re.search(ROW.format(name=re.escape(name)), summary, re.M)
            assert m, f"no row {name!r} in\n{summary}"
            der, miss, fa, conf = (float(v) for v in m.groups())
            assert der == pytest.approx(100 * result["overall"]["der"], abs=0.006)
            assert abs(der - (miss + fa + conf)) <= 0.02

    # a rerun finds the inputs, models and decodings done and leaves them as they are (stage 4
    # rescoring rewrites only the score dirs and the summaries)
    def kept():
        return {
            p: p.stat().st_mtime_ns
            for p in exp.rglob("*")
            if p.is_file() and p.name != "RESULTS.md" and "score" not in p.parent.parts
        }

    before = kept()
    assert len(before) > 20
    check(run(["local/eend_baseline.sh", "--max_epoch", "1", "--train_args", TINY], recipe, timeout=600))
    assert kept() == before

    # speaker-count modes a model cannot do are refused before anything is written
    from espnet2_tsdia.baselines.eend_decode import decode_set

    def decode(model, mode, **kw):
        d = exp / f"eend_{model}"
        return decode_set(
            tmp_path / "refused",
            train_config=d / "config.yaml",
            model_file=d / "valid.loss.ave.pth",
            wav_scp=recipe / "data" / "test" / "wav.scp",
            num_spk_mode=mode,
            **kw,
        )

    with pytest.raises(ValueError, match="SA-EEND model with a fixed number of outputs"):
        decode("sa", "estimated")
    with pytest.raises(ValueError, match="EEND-EDA model: choose num_spk_mode 'estimated' or 'oracle'"):
        decode("eda", "model")
    with pytest.raises(ValueError, match="'oracle' needs reco2num_spk"):
        decode("eda", "oracle")
    (tmp_path / "counts").write_text("test-000 2\n")
    with pytest.raises(ValueError, match=r"no speaker count for 1 recording\(s\): \['test-001'\]"):
        decode("eda", "oracle", reco2num_spk=tmp_path / "counts")
    assert not (tmp_path / "refused").exists()


def cpu(path: Path) -> float:
    _, user, sys_ = (float(v) for v in path.read_text().split())
    return user + sys_


@pytest.mark.slow
def test_cpu_budget_sets_the_epochs_and_charges_a_killed_run(tmp_path):
    """--cpu_budget: one epoch, then the epochs the rest pays for at the first run's cost per epoch
    (less the start-up a dry run measured); a run killed before it wrote its time is charged on
    the next call."""
    need_install()
    recipe = scratch_recipe(tmp_path, "offline_demo")
    make_set(recipe, "train", [2, 3, 2], seed=1)
    make_set(recipe, "dev", [2], seed=2)
    make_set(recipe, "test", [2], seed=3)
    opts = ["--models", "sa", "--train_args", TINY, "--stop_stage", "2"]
    check(run(["local/eend_baseline.sh", *opts, "--cpu_budget", "40"], recipe, timeout=1200))
    exp = recipe / "exp" / "eend_sa"
    startup, first = cpu(exp / "startup.time"), cpu(exp / "epoch1.time")
    epochs = int(str((exp / "latest.pth").readlink()).removesuffix("epoch.pth"))
    extra = int((40 - first - startup) // (first - startup)) if first > startup else 0
    assert epochs == 1 + max(extra, 0)
    assert (exp / "train.time.2").is_file() == (extra > 0)
    assert not list(exp.glob("train.time.*.start"))

    # a run that was killed after epoch 1 (its start file left behind, no time written) is
    # charged as the start-up plus the epochs it finished, and training goes on from there
    runs = sorted(exp.glob("train.time.[0-9]"))
    killed = exp / f"train.time.{len(runs) + 1}"
    Path(f"{killed}.start").write_text("1\n")
    (exp / ".train.done").unlink()
    (exp / ".train.settings").unlink()
    check(run(["local/eend_baseline.sh", *opts, "--cpu_budget", "400"], recipe, timeout=1200))
    assert Path(f"{killed}.estimated").is_file() and not Path(f"{killed}.start").exists()
    assert cpu(killed) == pytest.approx(startup + (epochs - 1) * (first - startup), abs=0.01)
    assert int(str((exp / "latest.pth").readlink()).removesuffix("epoch.pth")) > epochs
