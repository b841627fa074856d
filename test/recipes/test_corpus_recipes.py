"""Every corpus recipe's ``./run.sh --stage 1 --stop_stage 3`` on a tiny corpus in its native
layout, built by the corpus tests' own builders (test/corpora): data preparation through
local/data.sh with the root from the db.sh variable, format and validation, target-speaker
examples and stored features. An unset root stops the recipe with the corpus's message.

Dataset descriptions (part of stage 1) are left out here (``--describe false``) to save time;
test_tsdia_stages.py runs them."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple

import pytest

from test.recipes.helpers import check, need_install, run, scratch_recipe

MINI_YAML = """# tiny sets with the names run.sh uses
common:
  fs: 8000
  min_utts: 2
  max_utts: 3
  turn_model: {type: histogram, pause_same: {edges: [0, 0.5], counts: [1]}, pause_diff: {edges: [0, 0.5, 1.0], counts: [2, 1]}, overlap: {edges: [0, 0.5], counts: [1]}}
sets:
  - {name: train, source: train_clean_5, num_conversations: 2, speaker_counts: {2: 1}, seed: 1}
  - {name: dev_ns2_ov5-15, source: dev_clean_2, num_conversations: 1, speaker_counts: {2: 1}, seed: 2}
  - {name: test_ns2_ov5-15, source: dev_clean_2, num_conversations: 1, speaker_counts: {2: 1}, seed: 3}
"""


class Case(NamedTuple):
    env_var: str
    build: Callable[[Path, Path], Path]  # (corpus root, recipe dir) -> corpus root
    local_opts: str
    extra: List[str]  # tsdia.sh options where the tiny corpus lacks a split


def _module(name: str):
    """A corpus test module of test/corpora (its native-layout builders)."""
    return importlib.import_module(f"test.corpora.{name}")


def _ava(root: Path, recipe: Path) -> Path:
    m = _module("test_ava_avd")
    movies = root.parent / "movies"
    movies.mkdir()
    src = m.write_movie(movies / "Ma2hgTmveKQ.mkv", 1510.0, sample_rate=48000)
    m.write_movie(movies / "Ov0za6Xb1LM.mp4", 1501.0, source=src)
    m.write_movie(movies / "-FaXLcSFjUI.mkv", 1170.0, source=src)
    return m.build_ava(root, movies)


def _mini(root: Path, recipe: Path) -> Path:
    m = _module("test_librispeech")
    m.write_tree(root, "train-clean-5", m.tone_readers(3, 4))
    m.write_tree(root, "dev-clean-2", m.tone_readers(2, 4, first=200))
    (recipe / "conf" / "simu" / "tiny.yaml").write_text(MINI_YAML)
    return root


VOX_YAML = """# tiny sets with the names run.sh uses
common:
  fs: 8000
  min_utts: 1
  max_utts: 2
  turn_model: {type: histogram, pause_same: {edges: [0, 0.5], counts: [1]}, pause_diff: {edges: [0, 0.5, 1.0], counts: [2, 1]}, overlap: {edges: [0, 0.5], counts: [1]}}
sets:
  - {name: train, source: voxceleb2_dev, num_conversations: 2, speaker_counts: {2: 1}, seed: 1}
  - {name: dev_ns2_ov5-15, source: voxceleb1_dev, num_conversations: 1, speaker_counts: {2: 1}, seed: 2}
  - {name: test_ns2_ov0-30, source: voxceleb1_test, num_conversations: 1, speaker_counts: {2: 1}, seed: 3}
"""


def _voxceleb(root: Path, recipe: Path) -> Path:
    m = _module("test_voxceleb")
    m4a = root.parent / "m4a"
    for i, (rel, dur) in enumerate(m.VOX2.items()):
        m.m4a(m4a / rel, dur, 200 + 50 * i)
    (recipe / "conf" / "simu" / "tiny.yaml").write_text(VOX_YAML)
    return m.build_voxceleb(root, m4a)


def _ego4d(root: Path, recipe: Path) -> Path:
    m = _module("test_ego4d")
    movies = root.parent / "clips"
    movies.mkdir()
    for uid, seconds in m.SECONDS.items():
        m.write_movie(movies / f"{uid}.mp4", seconds, sample_rate=16000, channels=1)
    return m.build_ego4d(root, movies)


CASES: Dict[str, Case] = {
    "ami": Case("AMI", lambda root, rec: _module("test_ami").build_ami(root), "--skip_download true", []),
    "icsi": Case("ICSI", lambda root, rec: _module("test_icsi").build_icsi(root), "--skip_download true", []),
    "aishell4": Case(
        "AISHELL4",
        lambda root, rec: _module("test_aishell4").build_aishell4(root, root.parent),
        "--skip_download true --num_dev 1",
        [],
    ),
    "voxconverse": Case(
        "VOXCONVERSE", lambda root, rec: _module("test_voxconverse").build_voxconverse(root), "--skip_download true", []
    ),
    "msdwild": Case(
        "MSDWILD", lambda root, rec: _module("test_msdwild").build_msdwild(root), "--skip_download true", []
    ),
    "ava_avd": Case(
        "AVA_AVD", _ava, "--skip_download true --nj 1 --splits 'train val'", ["--test_sets", "ava_avd_val"]
    ),  # no test clip
    "chime6": Case(
        "CHIME6",
        lambda root, rec: _module("test_chime6").build_chime6(root, arrays=("U06",), channels=(1,), worn=False),
        "--skip_download true --sessions 'S01 S02 S03 S05'",
        [],
    ),
    "libricss": Case(
        "LIBRICSS",
        lambda root, rec: _module("test_libricss").build_libricss(root),
        "--skip_download true --sessions '0 1'",
        [],
    ),
    "tedlium": Case(
        "TEDLIUM", lambda root, rec: _module("test_tedlium").build_tedlium3(root), "--skip_download true", []
    ),
    "ego4d": Case("EGO4D", _ego4d, "--skip_download true --nj 1", []),
    "libriheavymix": Case(  # stage 1 checks the local copy (nothing to download)
        "LIBRIHEAVYMIX",
        lambda root, rec: _module("test_libriheavymix").build_libriheavymix(root, small=True),
        "--sets 'small dev_2spk test-clean_2spk'",
        ["--test_sets", "libriheavymix_test_clean_2spk"],
    ),
    "voxceleb": Case(
        "VOXCELEB",
        _voxceleb,
        "--skip_download true --simu_conf conf/simu/tiny.yaml --nj 1",
        ["--test_sets", "test_ns2_ov0-30"],
    ),
    "dihard3": Case(
        "DIHARD3", lambda root, rec: _module("test_dihard3").build_dihard3(root), "--skip_download true", []
    ),
    "callhome": Case(
        "CALLHOME",
        lambda root, rec: _module("test_callhome").build_callhome(root),
        "--skip_download true --num_part1 3 --num_valid 1",
        [],
    ),
    "mini_librispeech": Case(
        "MINI_LIBRISPEECH",
        _mini,
        "--local_tree {root} --simu_conf conf/simu/tiny.yaml --nj 1",
        ["--test_sets", "test_ns2_ov5-15"],
    ),
}


def sets_of(run_sh: str, extra: List[str]) -> List[str]:
    """train, valid and test sets named in run.sh (with the test's overrides)."""
    import re

    found = dict(re.findall(r'^(train_set|valid_set|test_sets)="?([^"\n]+)"?$', run_sh, re.M))
    if "--test_sets" in extra:
        found["test_sets"] = extra[extra.index("--test_sets") + 1]
    return [found["train_set"], found["valid_set"], *found["test_sets"].split()]


@pytest.mark.slow  # 20-40 s each
@pytest.mark.parametrize("name", sorted(CASES))
def test_run_sh_stages_1_to_3(name, tmp_path):
    need_install()
    case = CASES[name]
    recipe = scratch_recipe(tmp_path, name)
    (tmp_path / "corpus").mkdir()
    root = case.build(tmp_path / "corpus" / name, recipe)
    opts = ["--local_data_opts", case.local_opts.format(root=root), "--describe", "false", "--nj", "1", *case.extra]
    proc = run(["./run.sh", "--stage", "1", "--stop_stage", "3", *opts], recipe, env={case.env_var: str(root)})
    check(proc)
    sets = sets_of((recipe / "run.sh").read_text(), case.extra)
    train, valid = sets[0], sets[1]
    for s in dict.fromkeys(sets):
        assert (recipe / "dump" / s / ".format.done").is_file(), s
        examples = (recipe / "dump" / s / "tsdia" / "examples").read_text().splitlines()
        assert examples and all("__" in ln.split()[0] for ln in examples), s
        # train/valid get stored features (fbank) or only the recording means (--feats_type raw,
        # as mini_librispeech's on-the-fly mixtures); test sets get neither
        assert (recipe / "dump" / s / "tsdia" / ".feats.done").is_file() == (s in (train, valid)), s
        raw = "--feats_type raw" in (recipe / "run.sh").read_text()
        assert (recipe / "dump" / s / "tsdia" / "feats.scp").is_file() == (s in (train, valid) and not raw), s

    # the root unset: local/data.sh stops and says which variable to set (mini_librispeech's
    # root defaults to downloads/, where its download stage puts the corpus)
    if name != "mini_librispeech":
        proc = run(
            ["./run.sh", "--stage", "1", "--stop_stage", "1", "--local_data_opts", "--skip_download true"],
            recipe,
            env={case.env_var: ""},
        )
        assert proc.returncode != 0 and f"{case.env_var} is not set" in proc.stderr
