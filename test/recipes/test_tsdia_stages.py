"""tsdia.sh on the toy corpus (test/recipes/toy.py; the ``recipe`` fixture of conftest.py):
stages 1-3, resuming and skipping, redoing a stage whose inputs or settings changed, scoring with
the baselines (stage 7), the inference and feature configs of stages 6 and 8, option errors, and
a stage whose tool is missing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pytest

from test.recipes.helpers import TEMPLATE, check, run
from test.recipes.toy import DUR, OPTS, SETS, turns_of, write_set


def lines(p: Path) -> List[str]:
    return p.read_text().splitlines()


def stamps(recipe: Path, *files: str) -> Dict[str, int]:
    """Modification times of a stage's outputs: a stage that is skipped leaves them as they are."""
    return {f: (recipe / f).stat().st_mtime_ns for f in files}


FORMATTED = [f"dump/{s}/.format.done" for s in SETS]
EXAMPLES = [f"dump/{s}/tsdia/examples" for s in SETS]
FEATS = [f"dump/{s}/tsdia/feats.scp" for s in ("tr", "dv")]


def test_stages_1_to_3_then_resume_and_skip(recipe):
    check(run(["./tsdia.sh", *OPTS, "--stage", "1", "--stop_stage", "3"], recipe))
    assert lines(recipe / "data_sh_runs.txt") == ["run"]
    assert (recipe / "exp" / "data_description" / "toy.md").is_file()
    for s in ("tr", "dv", "ts"):
        assert (recipe / "dump" / s / ".format.done").is_file()
        assert lines(recipe / "dump" / s / "wav.scp") == lines(recipe / "data" / s / "wav.scp")  # audio read in place
        pairs = sorted({f"{t.reco}__{t.speaker}" for r in SETS[s] for t in turns_of(s, r)})
        assert [ln.split()[0] for ln in lines(recipe / "dump" / s / "tsdia" / "examples")] == pairs
        assert (recipe / "dump" / s / "tsdia" / "feats.scp").is_file() == (
            s != "ts"
        )  # test sets: inference reads audio
    # 12 s at 16 kHz -> 120 frames at the standard's 10 frames per second; chunks of 40, hop 20
    assert set(lines(recipe / "dump" / "tr" / "tsdia" / "reco2num_samples")) == {"tr1 96000", "tr2 96000"}
    assert len(lines(recipe / "dump" / "tr" / "tsdia" / "chunks")) == 5 * 5
    # features in min(recordings, --nj 2) jobs: dv has one recording
    assert sorted(p.name for p in (recipe / "dump" / "dv" / "tsdia" / "log").glob("extract_feats.*.log")) == [
        "extract_feats.0.log"
    ]
    first = stamps(recipe, *FORMATTED, *EXAMPLES, *FEATS)

    # resume at stage 3: stages 1-2 do not run, stage 3 finds its work done
    check(run(["./tsdia.sh", *OPTS, "--stage", "3", "--stop_stage", "3"], recipe))
    assert lines(recipe / "data_sh_runs.txt") == ["run"]
    assert stamps(recipe, *first) == first

    # from stage 1 again with the same settings: everything is skipped
    check(run(["./tsdia.sh", *OPTS, "--stage", "1", "--stop_stage", "3"], recipe))
    assert lines(recipe / "data_sh_runs.txt") == ["run"]
    assert stamps(recipe, *first) == first

    # other example options: the examples and the features that depend on them are redone
    opts = OPTS[:-1] + ["--chunk_frames 60 --chunk_hop 60"]
    check(run(["./tsdia.sh", *opts, "--stage", "3", "--stop_stage", "3"], recipe))
    assert len(lines(recipe / "dump" / "tr" / "tsdia" / "chunks")) == 5 * 2
    redone = stamps(recipe, *first)
    assert [f for f in first if redone[f] != first[f]] == EXAMPLES + FEATS

    # changed data: only that set is formatted again
    write_set(recipe.parent.parent.parent / "corpus", "ts", recos=["ts1"])
    check(run(["bash", "local/data.sh"], recipe))
    check(run(["./tsdia.sh", *opts, "--stage", "2", "--stop_stage", "3"], recipe))
    again = stamps(recipe, *first)
    assert [f for f in first if again[f] != redone[f]] == ["dump/ts/.format.done", "dump/ts/tsdia/examples"]
    assert [ln.split()[0] for ln in lines(recipe / "dump" / "ts" / "tsdia" / "examples")] == [
        "ts1__ts1_d",
        "ts1__ts1_e",
    ]


def test_score_stage_with_baselines(recipe):
    """Stage 7 on a hypothesis equal to the reference: DER 0 for the model, 100 % miss for all
    silence, and for "every target always speaking" FA = (speakers x duration - speech) / speech."""
    if not (recipe / "dump" / "ts" / ".format.done").is_file():
        check(run(["./tsdia.sh", *OPTS, "--stage", "1", "--stop_stage", "2"], recipe))
    exp = recipe / "exp" / "tsdia_x"
    out = exp / "decode_valid.loss.ave" / "ts"
    out.mkdir(parents=True)
    (out / "hyp.rttm").write_text((recipe / "dump" / "ts" / "rttm").read_text())
    check(run(["./tsdia.sh", *OPTS, "--tag", "x", "--stage", "7", "--stop_stage", "7"], recipe))
    table = [ln for ln in lines(exp / "RESULTS.md") if ln.startswith("| ") and "system" not in ln]
    turns = [
        t for r in sorted({ln.split()[1] for ln in lines(recipe / "dump" / "ts" / "rttm")}) for t in turns_of("ts", r)
    ]
    speech = sum(t.duration for t in turns)
    n_targets = len({(t.reco, t.speaker) for t in turns})
    fa = 100 * (n_targets * DUR - speech) / speech
    assert table == [
        "| model | 0.00 | 0.00 | 0.00 | 0.00 |",
        "| all silence | 100.00 | 100.00 | 0.00 | 0.00 |",
        f"| every target always speaking | {fa:.2f} | 0.00 | {fa:.2f} | 0.00 |",
    ]
    assert (out / "score_baseline_always" / "result.json").is_file()


def test_option_errors(recipe):
    proc = run(["./tsdia.sh", "--valid_set", "dv", "--test_sets", "ts"], recipe)
    assert proc.returncode == 1 and "Error: --train_set is required" in proc.stderr
    proc = run(["./tsdia.sh", *OPTS, "--feats_type", "mfcc"], recipe)
    assert proc.returncode == 1 and "--feats_type must be fbank or raw, got 'mfcc'" in proc.stderr
    proc = run(["./tsdia.sh", *OPTS, "--stage", "two"], recipe)
    assert proc.returncode == 1 and "--stage must be a non-negative integer, got 'two'" in proc.stderr
    proc = run(["./tsdia.sh", *OPTS, "--trainset", "tr"], recipe)
    assert proc.returncode == 2 and "unknown option --trainset" in proc.stderr
    proc = run(["./tsdia.sh", *OPTS, "--stage", "4", "--stop_stage", "4"], recipe)
    assert proc.returncode == 1 and "--train_config is required for stages 4 and 5" in proc.stderr
    help_text = run(["./tsdia.sh", "--help"], recipe).stdout
    assert re.search(r"^  --example_opts\s+\"\"\s+options of make_tsdia_examples", help_text, re.M)


def test_missing_tool_is_reported(recipe, tmp_path):
    """A stage whose Python tool is not installed stops and names it (never passes silently)."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    (recipe / "exp" / "tsdia_y").mkdir(parents=True, exist_ok=True)
    (recipe / "exp" / "tsdia_y" / "valid.loss.ave.pth").write_bytes(b"")
    for stage, tool in ((6, "tsdia_inference"), (8, "pack_model")):
        proc = run(
            [
                "./tsdia.sh",
                *OPTS,
                "--tag",
                "y",
                "--python",
                str(fake),
                "--stage",
                str(stage),
                "--stop_stage",
                str(stage),
            ],
            recipe,
        )
        assert proc.returncode == 1 and f"Error: not available yet: espnet2_tsdia.bin.{tool}" in proc.stderr


def test_raw_features_store_only_the_means(recipe):
    """--feats_type raw (waveforms through the model's frontend): stage 3 stores the
    per-recording means the frontend subtracts, not the features."""
    check(
        run(
            ["./tsdia.sh", *OPTS, "--dumpdir", "dump_raw", "--feats_type", "raw", "--stage", "1", "--stop_stage", "3"],
            recipe,
        )
    )
    for s in ("tr", "dv"):
        ex = recipe / "dump_raw" / s / "tsdia"
        assert (ex / "mean.scp").is_file() and not (ex / "feats.scp").exists()
    assert len(lines(recipe / "dump_raw" / "tr" / "tsdia" / "mean.scp")) == len(SETS["tr"])


FAKE_PYTHON = """#!{python}
# tsdia_inference and pack_model as stand-ins: the real parser reads the options tsdia.sh gives
# (recorded in {log}); the outputs the stages expect are written empty. Anything else: Python.
import json, os, sys
argv = sys.argv[1:]
tools = ("espnet2_tsdia.bin.tsdia_inference", "espnet2_tsdia.bin.pack_model")
if argv[:1] != ["-m"] or argv[1] not in tools:
    os.execv({python!r}, [{python!r}, *argv])
tool, args = argv[1].rsplit(".", 1)[1], argv[2:]
if tool == "tsdia_inference":
    from espnet2_tsdia.bin.tsdia_inference import get_parser
    ns = get_parser().parse_args(args)
    os.makedirs(ns.output_dir, exist_ok=True)
    for name in ("rttm", "posteriors.scp"):
        open(os.path.join(ns.output_dir, name), "w").close()
    record = {{"tool": tool, "threshold": ns.threshold, "median_filter": ns.median_filter, "frontend_conf": ns.frontend_conf}}
else:
    from espnet2_tsdia.bin.pack_model import get_parser
    ns = get_parser().parse_args(args)
    open(ns.outpath, "wb").close()
    record = {{"tool": tool, "frontend_conf": ns.frontend_conf}}
with open({log!r}, "a") as f:
    f.write(json.dumps(record) + "\\n")
"""


@pytest.mark.parametrize("feats_type", ["fbank", "raw"])
def test_inference_and_pack_get_the_decode_config_and_the_feature_config(recipe, tmp_path, feats_type):
    """Stage 6 gives tsdia_inference the inference config itself (--config): a nested key reaches
    the tool's options. On stored features (fbank) stages 6 and 8 also give the feature config
    (--frontend_conf conf/fbank.yaml); with raw waveforms the model has its own frontend."""
    import json
    import sys

    import yaml

    if not (recipe / "dump" / "ts" / ".format.done").is_file():
        check(run(["./tsdia.sh", *OPTS, "--stage", "1", "--stop_stage", "2"], recipe))
    log = tmp_path / "calls.jsonl"
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable, log=str(log)))
    fake.chmod(0o755)
    exp = recipe / "exp" / f"tsdia_cfg_{feats_type}"
    exp.mkdir(parents=True, exist_ok=True)
    (exp / "valid.loss.ave.pth").write_bytes(b"")
    decode = tmp_path / "decode_nested.yaml"
    fbank = yaml.safe_load((TEMPLATE / "conf" / "fbank.yaml").read_text())
    decode.write_text(yaml.safe_dump({"threshold": 0.4, "median_filter": 5, "frontend_conf": fbank}))
    argv = ["--tag", f"cfg_{feats_type}", "--feats_type", feats_type, "--inference_config", str(decode)]
    check(run(["./tsdia.sh", *OPTS, *argv, "--python", str(fake), "--stage", "6", "--stop_stage", "8"], recipe))
    calls = [json.loads(ln) for ln in log.read_text().splitlines()]
    inference = [c for c in calls if c["tool"] == "tsdia_inference"]
    pack = [c for c in calls if c["tool"] == "pack_model"]
    assert inference and len(pack) == 1
    for c in inference:
        assert (c["threshold"], c["median_filter"]) == (0.4, 5)
        # fbank: the recipe's feature config wins over the decode yaml's (the same values here)
        assert c["frontend_conf"] == ("conf/fbank.yaml" if feats_type == "fbank" else fbank)
    assert pack[0]["frontend_conf"] == ("conf/fbank.yaml" if feats_type == "fbank" else None)
