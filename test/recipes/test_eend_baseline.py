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
def test_eend_baseline_trains_decodes_and_scores(tmp_path, monkeypatch):
    need_install()
    recipe = scratch_recipe(tmp_path, "offline_demo")
    monkeypatch.chdir(recipe)  # the ark paths in the scp files are relative to the recipe (Kaldi's convention)
    make_set(recipe, "train", [2, 3, 2, 3, 2, 2], seed=1)
    make_set(recipe, "dev", [2, 3], seed=2)
    ref = make_set(recipe, "test", [2, 3], seed=3)

    check(run(["local/eend_baseline.sh", "--max_epoch", "1", "--train_args", TINY], recipe, timeout=3600))

    exp = recipe / "exp"
    for model, modes in (("sa", ["model"]), ("eda", ["estimated", "oracle"])):
        wall, user, sys_ = (float(v) for v in (exp / f"eend_{model}" / "train.time.1").read_text().split())
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
    check(run(["local/eend_baseline.sh", "--max_epoch", "1", "--train_args", TINY], recipe, timeout=1800))
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


# A stand-in for the Python of the recipe: ``-m espnet2.bin.diar_train`` trains "epochs" that
# burn CPU (an epoch writes <n>epoch.pth and points latest.pth at it, as ESPnet does); anything
# else runs the real Python.
FAKE_PYTHON = r"""#!/usr/bin/env bash
if [ "$1 $2" != "-m espnet2.bin.diar_train" ]; then exec "{python}" "$@"; fi
out="" max=1 dry=false
while [ $# -gt 0 ]; do
    case "$1" in
        --output_dir) out=$2; shift 2 ;;
        --max_epoch) max=$2; shift 2 ;;
        --dry_run) dry=$2; shift 2 ;;
        *) shift ;;
    esac
done
burn() {{ local j; for ((j = 0; j < $1; j++)); do :; done; }}
mkdir -p "$out"
burn 20000
[ "$dry" = false ] || exit 0
done=0
[ ! -L "$out/latest.pth" ] || done=$(readlink "$out/latest.pth" | sed 's/epoch.pth$//')
for ((e = done + 1; e <= max; e++)); do
    burn 60000
    touch "$out/${{e}}epoch.pth"
    ln -sfn "${{e}}epoch.pth" "$out/latest.pth"
done
touch "$out/valid.loss.ave.pth"
"""


def test_cpu_budget_sets_the_epochs_and_charges_a_killed_run(tmp_path):
    """--cpu_budget: one epoch, then the epochs the rest pays for at the first run's cost per epoch
    (less the start-up a dry run measured); a run killed with the script, before it wrote its
    time, is charged on the next call as the start-up plus the epochs it finished."""
    import sys

    need_install()
    recipe = scratch_recipe(tmp_path, "offline_demo")
    for name in ("train", "dev"):
        (recipe / "data" / name).mkdir(parents=True)
        (recipe / "data" / name / "wav.scp").write_text("r x.wav\n")
        (recipe / "data" / name / "rttm").write_text("SPEAKER r 1 0.000 1.000 <NA> <NA> a <NA> <NA>\n")
        (recipe / "exp" / "eend_inputs" / "sa" / name).mkdir(parents=True)
        (recipe / "exp" / "eend_inputs" / "sa" / name / ".done").write_text("made by the test\n")
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(0o755)
    exp = recipe / "exp" / "eend_sa"

    def train(budget):
        opts = ["--models", "sa", "--stage", "2", "--stop_stage", "2", "--python", str(fake)]
        check(run(["local/eend_baseline.sh", *opts, "--cpu_budget", str(budget)], recipe))

    def epochs():
        return int(str((exp / "latest.pth").readlink()).removesuffix("epoch.pth"))

    train(0.01)  # too small for more than the first epoch
    assert epochs() == 1 and sorted(p.name for p in exp.glob("train.time*")) == ["train.time.1"]
    assert (exp / "epoch1.time").read_text() == (exp / "train.time.1").read_text()

    # a larger budget: the epochs the rest pays for, at the first epoch's cost less a start-up
    (exp / ".train.done").unlink()
    (exp / ".train.settings").unlink()
    train(1.5)
    startup, first = cpu(exp / "startup.time"), cpu(exp / "epoch1.time")
    used = cpu(exp / "train.time.1")
    assert first > startup > 0
    assert epochs() == max(1, 1 + int((1.5 - used - startup) // (first - startup)))
    assert (exp / "train.time.2").is_file() == (epochs() > 1)

    # the script was killed during a third run that had finished 2 more epochs
    done = epochs()
    runs = len(list(exp.glob("train.time.[0-9]")))
    killed = exp / f"train.time.{runs + 1}"
    Path(f"{killed}.start").write_text(f"{done}\n")
    killed.write_text("")  # the time redirection had created the file
    for e in (done + 1, done + 2):
        (exp / f"{e}epoch.pth").touch()
    (exp / "latest.pth").unlink()
    (exp / "latest.pth").symlink_to(f"{done + 2}epoch.pth")
    (exp / ".train.done").unlink()
    (exp / ".train.settings").unlink()
    train(3)
    assert Path(f"{killed}.estimated").is_file() and not Path(f"{killed}.start").exists()
    assert cpu(killed) == pytest.approx(startup + 2 * (first - startup), abs=0.002)
    assert epochs() > done + 2  # and the budget paid for more

    with pytest.raises(AssertionError, match="--cpu_budget must be a positive number of seconds, got '0'"):
        train(0)
