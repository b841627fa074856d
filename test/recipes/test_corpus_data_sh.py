"""The corpus recipes' local/data.sh: thin wrappers (a corpus name and a db.sh variable) over the
template's utils/corpus_data.sh, whose options are the shared stage options plus the corpus's
own, read from its Python declaration, parsed by utils/parse_options.sh and given to every
action of prepare_corpus.

The plumbing runs with a stand-in for Python that records each prepare_corpus call (the
``options`` action goes to the real one); the corpora themselves run in test/corpora and in
test_corpus_recipes.py."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from espnet2_tsdia.bin import prepare_corpus
from espnet2_tsdia.corpora.registry import CORPORA
from test.recipes.helpers import EGS2, REPO, TEMPLATE, run, scratch_recipe

SHARED = ["stage", "stop_stage", "skip_download", "data_dir", "python"]


def wrappers() -> Dict[str, Path]:
    """recipe name -> its local/data.sh, for the recipes built on utils/corpus_data.sh."""
    return {
        p.parents[2].name: p
        for p in sorted(EGS2.glob("*/diar1/local/data.sh"))
        if "utils/corpus_data.sh" in p.read_text(encoding="utf-8")
    }


def settings(script: Path) -> Dict[str, str]:
    return dict(re.findall(r"^(corpus|db_variable)=(\S+)$", script.read_text(encoding="utf-8"), re.M))


def test_the_corpus_recipes_are_thin_wrappers():
    found = wrappers()
    assert {"ami", "icsi", "aishell4", "voxconverse", "ava_avd", "msdwild"} <= set(found)
    db_sh = (TEMPLATE / "db.sh").read_text(encoding="utf-8")
    for script in found.values():
        code = [ln for ln in script.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
        assert len(code) <= 4, f"{script}: {code}"
        conf = settings(script)
        assert conf["corpus"] in CORPORA, script
        assert re.search(rf"^{conf['db_variable']}=", db_sh, re.M), f"{conf['db_variable']} is not in db.sh"


@pytest.mark.parametrize("name", sorted(wrappers()))
def test_help_lists_the_shared_and_the_corpus_options(name, tmp_path):
    recipe = scratch_recipe(tmp_path, name)
    proc = run(["local/data.sh", "--python", sys.executable, "--help"], recipe, env={"PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    listed = re.findall(r"^  --(\w+)", proc.stdout, re.M)
    args = prepare_corpus.get_parser().parse_args([settings(recipe / "local" / "data.sh")["corpus"], "options"])
    assert listed == SHARED + [a.dest for a in args.own_options]


def fake_python(tmp_path: Path) -> Path:
    """A Python that records prepare_corpus's arguments in calls.jsonl (except ``options``)."""
    log = tmp_path / "calls.jsonl"
    fake = tmp_path / "fake_python"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "if 'options' in sys.argv:\n"
        f"    os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    fake.chmod(0o755)
    return fake


def calls(tmp_path: Path) -> List[List[str]]:
    path = tmp_path / "calls.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []


def test_options_reach_every_action(tmp_path):
    recipe = scratch_recipe(tmp_path, "voxconverse")
    fake = fake_python(tmp_path)
    argv = ["local/data.sh", "--python", str(fake), "--splits", "dev test", "--exclude=abjxc", "--data_dir", "d"]
    proc = run(argv, recipe, env={"PYTHONPATH": str(REPO), "VOXCONVERSE": "/corpora/vc"})
    assert proc.returncode == 0, proc.stderr
    mod = ["-m", "espnet2_tsdia.bin.prepare_corpus", "voxconverse"]
    opts = ["--splits", "dev test", "--exclude", "abjxc"]  # --rttm_dir: empty, not given
    assert calls(tmp_path) == [
        [*mod, "download", "--corpus_dir", "/corpora/vc", *opts],
        [*mod, "prepare", "--corpus_dir", "/corpora/vc", "--out_dir", "d", *opts],
        [*mod, "validate", "--out_dir", "d", *opts],
    ]


def test_stages_and_skip_download(tmp_path):
    recipe = scratch_recipe(tmp_path, "ami")
    fake = fake_python(tmp_path)
    env = {"PYTHONPATH": str(REPO), "AMI": "/corpora/ami"}
    proc = run(["local/data.sh", "--python", str(fake), "--skip_download", "true", "--stop_stage", "2"], recipe, env)
    assert proc.returncode == 0, proc.stderr
    mod = ["-m", "espnet2_tsdia.bin.prepare_corpus", "ami"]
    defaults = ["--stream", "Mix-Headset", "--reference", "only_words", "--splits", "train dev test"]
    assert calls(tmp_path) == [
        [*mod, "prepare", "--corpus_dir", "/corpora/ami", "--out_dir", "data", *defaults, "--missing_ok", "false"]
    ]


@pytest.mark.parametrize(
    "argv, env, status",
    [
        (["--bogus", "1"], {"AMI": "/x"}, 2),  # not an option of the skeleton or of AMI
        (["--skip_download", "maybe"], {"AMI": "/x"}, 2),
        (["--stream"], {"AMI": "/x"}, 2),  # no value
        (["extra"], {"AMI": "/x"}, 2),
        ([], {"AMI": ""}, 1),  # the root unset
    ],
)
def test_bad_use_runs_nothing(tmp_path, argv, env, status):
    recipe = scratch_recipe(tmp_path, "ami")
    fake = fake_python(tmp_path)
    proc = run(["local/data.sh", "--python", str(fake), *argv], recipe, {"PYTHONPATH": str(REPO), **env})
    assert proc.returncode == status
    assert calls(tmp_path) == []
