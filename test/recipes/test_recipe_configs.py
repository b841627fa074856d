"""Every yaml under egs2/*/diar1/conf/ is built by the code that reads it: training configs
through the task (``--dry_run``; the stock-EEND baseline's, conf/eend/, through ESPnet's
DiarizationTask), the decoding options by tsdia_inference's parser and option check, the preprocessing standard by the frontend, simulation sets by the simulator's config and
corpus facts by their loader. A yaml no test knows fails here.

Training configs linked from the template are built by test/tasks/test_tsdia_task.py (every
shipped config, both layouts); the recipes' own ones are built here."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from test.recipes.helpers import EGS2, TEMPLATE


def recipe_yamls() -> Dict[Path, List[Path]]:
    """Resolved yaml file -> the recipe paths that name it."""
    out: Dict[Path, List[Path]] = {}
    for conf in sorted(EGS2.glob("*/diar1/conf")):
        if conf.parent.parent.name == "TEMPLATE":
            continue
        for p in sorted(list(conf.rglob("*.yaml")) + list(conf.rglob("*.yml"))):
            out.setdefault(p.resolve(), []).append(p)
    return out


def kind(path: Path) -> str:
    rel = path.relative_to(EGS2)
    name = path.name
    if path.is_relative_to(TEMPLATE.resolve() / "conf") and (name.startswith("train") or "plan" in rel.parts):
        return "template_train"
    if "eend" in rel.parts:
        return "eend"  # ESPnet's stock diarization task (local/eend_baseline.sh)
    if name.startswith("train_spk"):
        return "spk"  # ESPnet's speaker task: the first pass's speaker model (espnet2.bin.spk_train)
    if name.startswith("train") or "ablation" in rel.parts:
        return "train"
    if name.startswith("tune"):
        return "tune"  # a training config with a tuning section
    if name.startswith("decode_search"):
        return "decode_search"  # a grid of decode options (tsdia.sh --decode_search)
    if name == "decode.yaml" or name.startswith("decode_"):
        return "decode"
    if name == "fbank.yaml":
        return "fbank"
    if "simu" in rel.parts:
        return "simu"
    if name == "corpus.yaml":
        return "corpus"
    return "unknown"


YAMLS = recipe_yamls()
OWN_TRAIN = [p for p in YAMLS if kind(p) in ("train", "tune")]


def test_every_yaml_has_a_known_kind():
    assert OWN_TRAIN, "the demo's own training configs should be found"
    assert [str(p) for p in YAMLS if kind(p) == "unknown"] == []


@pytest.mark.parametrize("path", OWN_TRAIN, ids=lambda p: str(p.relative_to(EGS2)))
def test_recipe_train_config_builds(path, tmp_path):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    out = tmp_path / "exp"
    TSDiarizationTask.main(cmd=["--config", str(path), "--dry_run", "true", "--ngpu", "0", "--output_dir", str(out)])
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["model_type"] == yaml.safe_load(path.read_text())["model_type"]


@pytest.mark.parametrize("path", [p for p in YAMLS if kind(p) == "tune"], ids=lambda p: str(p.relative_to(EGS2)))
def test_tuning_config_passes_the_tuners_checks(path, capsys):
    from espnet2_tsdia.bin import tune

    # the search space, and config check of the configs at both of its corners
    assert tune.main(["--config", str(path), "--output_dir", "unused", "--check_only"]) == 0
    assert capsys.readouterr().out.startswith(f"OK: {path}: ")


@pytest.mark.parametrize("path", [p for p in YAMLS if kind(p) == "eend"], ids=lambda p: str(p.relative_to(EGS2)))
def test_eend_config_builds_through_espnets_diarization_task(path, tmp_path):
    from espnet2.tasks.diar import DiarizationTask

    out = tmp_path / "exp"
    DiarizationTask.main(cmd=["--config", str(path), "--dry_run", "true", "--ngpu", "0", "--output_dir", str(out)])
    written = yaml.safe_load((out / "config.yaml").read_text())
    conf = yaml.safe_load(path.read_text())
    # the features come from the data loader, frame-level labels pass the aggregator unchanged
    assert written["frontend"] is None and written["input_size"] == 345
    assert written["label_aggregator_conf"] == {"win_length": 1, "hop_length": 1, "center": True}
    assert written["attractor"] == conf.get("attractor") and written["iterator_type"] == "sequence"


@pytest.mark.parametrize("path", [p for p in YAMLS if kind(p) == "spk"], ids=lambda p: str(p.relative_to(EGS2)))
def test_speaker_model_config_builds_through_espnets_speaker_task(path, tmp_path):
    from espnet2.tasks.spk import SpeakerTask

    out = tmp_path / "exp"
    SpeakerTask.main(
        cmd=["--config", str(path), "--dry_run", "true", "--ngpu", "0", "--output_dir", str(out), "--spk_num", "4"]
    )
    written = yaml.safe_load((out / "config.yaml").read_text())
    conf = yaml.safe_load(path.read_text())
    # 8 kHz crops, as the first pass gives it the recordings at the preprocessing standard's rate
    assert written["preprocessor_conf"]["sample_rate"] == conf["preprocessor_conf"]["sample_rate"] == 8000
    assert written["encoder"] == conf["encoder"] and written["spk_num"] == 4


@pytest.mark.parametrize("path", [p for p in YAMLS if kind(p) == "decode"], ids=lambda p: str(p.relative_to(EGS2)))
def test_decode_config_is_accepted_by_tsdia_inference(path):
    """Stage 6 gives the file to tsdia_inference as --config: every key is one of its options."""
    from espnet2_tsdia.bin.tsdia_inference import OVERRIDES, get_parser
    from espnet2_tsdia.inference.speech2tsdia import resolve_options

    conf = yaml.safe_load(path.read_text())
    ns = get_parser().parse_args(
        ["--config", str(path), "--model_tag", "m.zip", "--data_path_and_name_and_type", "w,speech,sound"]
        + ["--output_dir", "o"]
    )
    assert conf and {k: getattr(ns, k) for k in conf} == conf
    knobs, post = resolve_options({}, {k: getattr(ns, k) for k in OVERRIDES})
    assert post.median_filter == conf["median_filter"]


@pytest.mark.parametrize(
    "path", [p for p in YAMLS if kind(p) == "decode_search"], ids=lambda p: str(p.relative_to(EGS2))
)
def test_decode_search_grid_loads(path):
    from espnet2_tsdia.tune.decode import DecodeGrid

    grid = DecodeGrid.from_dict(yaml.safe_load(path.read_text()), where=str(path))
    first = grid.candidates()[0]  # the defaults come first, so ties keep them
    assert (first.threshold, first.median_filter, first.min_speech, first.min_silence) == (0.5, 1, 0.0, 0.0)


@pytest.mark.parametrize("path", [p for p in YAMLS if kind(p) == "fbank"], ids=lambda p: str(p.relative_to(EGS2)))
def test_fbank_config_is_the_345_dim_standard(path):
    from espnet2_tsdia.frontend.fbank import TSDiaFbankFrontend

    conf = yaml.safe_load(path.read_text())
    frontend = TSDiaFbankFrontend(**conf)
    assert frontend.output_size() == 345 and (conf["fs"], conf["hop_length"], conf["subsampling"]) == (8000, 80, 10)
    # tsdia.sh hands it to extract_feats as JSON
    script = f'source <(sed -n "/^conf_json()/,/^}}/p" {TEMPLATE / "tsdia.sh"}); conf_json "$1"'
    out = subprocess.run(["bash", "-c", script, "x", str(path)], capture_output=True, text=True, check=True).stdout
    import json

    assert json.loads(out) == conf


@pytest.mark.parametrize("path", [p for p in YAMLS if kind(p) == "simu"], ids=lambda p: str(p.relative_to(EGS2)))
def test_simulation_config_loads(path):
    from espnet2_tsdia.simulate.config import load_set_configs

    assert load_set_configs(path)


@pytest.mark.parametrize("path", [p for p in YAMLS if kind(p) == "corpus"], ids=lambda p: str(p.relative_to(EGS2)))
def test_corpus_facts_name_their_recipe(path):
    assert yaml.safe_load(path.read_text())["name"] == path.parent.parent.parent.name
