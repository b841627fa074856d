"""Recipes share the template's shell and conf files by relative symlink, stay thin, and hold no
Python; a copy or a link that points elsewhere fails here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import List

import pytest
import yaml

from test.recipes.helpers import EGS2, GENERATED, REPO, TEMPLATE

RECIPES = [
    "aishell4",
    "ami",
    "ava_avd",
    "callhome",
    "chime6",
    "dihard3",
    "ego4d",
    "icsi",
    "libricss",
    "libriheavymix",
    "mini_librispeech",
    "msdwild",
    "offline_demo",
    "tedlium",
    "voxceleb",
    "voxconverse",
]
SHARED_TOP = ("tsdia.sh", "path.sh", "cmd.sh", "db.sh", "utils")


def shared_entries(template: Path) -> List[str]:
    """What every recipe must link: the top-level scripts, utils/, every entry of conf/."""
    return list(SHARED_TOP) + [f"conf/{p.name}" for p in sorted((template / "conf").iterdir())]


def drift_problems(egs2: Path) -> List[str]:
    """Every way the recipes under ``egs2`` differ from the template's sharing rules."""
    template = egs2 / "TEMPLATE" / "tsdia1"
    problems = []
    for recipe in sorted(p for p in egs2.glob("*/diar1") if p.parent.name != "TEMPLATE"):
        for entry in shared_entries(template):
            link = recipe / entry
            want = os.path.relpath(template / entry, link.parent)
            if link.is_symlink():
                if os.readlink(link) != want:
                    problems.append(f"{link.relative_to(egs2)}: points to {os.readlink(link)}, expected {want}")
            elif link.exists():
                problems.append(f"{link.relative_to(egs2)}: a copy, expected a symlink to {want}")
            else:
                problems.append(f"{link.relative_to(egs2)}: missing, expected a symlink to {want}")
        for root, dirs, files in os.walk(recipe):
            dirs[:] = [
                d for d in dirs if not (Path(root) == recipe and d in GENERATED) and not (Path(root) / d).is_symlink()
            ]
            problems += [
                f"{(Path(root) / f).relative_to(egs2)}: Python file in a recipe" for f in files if f.endswith(".py")
            ]
    problems += [f"{p.relative_to(egs2)}: Python file in the template" for p in template.rglob("*.py")]
    return problems


def test_every_recipe_links_the_template():
    assert sorted(p.parent.name for p in EGS2.glob("*/diar1") if p.parent.name != "TEMPLATE") == RECIPES
    assert drift_problems(EGS2) == []


def test_drift_is_detected(tmp_path):
    egs2 = tmp_path / "egs2"
    shutil.copytree(TEMPLATE, egs2 / "TEMPLATE" / "tsdia1", symlinks=True)
    (egs2 / "demo" / "diar1" / "local").mkdir(parents=True)
    link = subprocess.run(
        ["bash", str(egs2 / "TEMPLATE" / "tsdia1" / "utils" / "link_recipe.sh"), str(egs2 / "demo" / "diar1")],
        capture_output=True,
        text=True,
    )
    assert link.returncode == 0, link.stderr
    assert drift_problems(egs2) == []
    recipe = egs2 / "demo" / "diar1"
    (recipe / "path.sh").unlink()
    shutil.copy(TEMPLATE / "path.sh", recipe / "path.sh")  # a copy, identical today
    (recipe / "cmd.sh").unlink()
    os.symlink("../../TEMPLATE/tsdia1/db.sh", recipe / "cmd.sh")
    (recipe / "conf" / "fbank.yaml").unlink()
    (recipe / "local" / "prep.py").write_text("print('no')\n")
    assert drift_problems(egs2) == [
        "demo/diar1/path.sh: a copy, expected a symlink to ../../TEMPLATE/tsdia1/path.sh",
        "demo/diar1/cmd.sh: points to ../../TEMPLATE/tsdia1/db.sh, expected ../../TEMPLATE/tsdia1/cmd.sh",
        "demo/diar1/conf/fbank.yaml: missing, expected a symlink to ../../../TEMPLATE/tsdia1/conf/fbank.yaml",
        "demo/diar1/local/prep.py: Python file in a recipe",
    ]
    # a config added to the template must reach every recipe
    (egs2 / "TEMPLATE" / "tsdia1" / "conf" / "new.yaml").write_text("a: 1\n")
    assert (
        "demo/diar1/conf/new.yaml: missing, expected a symlink to ../../../TEMPLATE/tsdia1/conf/new.yaml"
        in drift_problems(egs2)
    )


@pytest.mark.parametrize("name", RECIPES)
def test_run_sh_is_thin(name):
    run_sh = EGS2 / name / "diar1" / "run.sh"
    text = run_sh.read_text()
    assert os.access(run_sh, os.X_OK) and not run_sh.is_symlink()
    assert len(text.splitlines()) <= 35, f"{run_sh}: {len(text.splitlines())} lines; keep recipes about 30 lines"
    assert (
        re.search(r"^\./tsdia\.sh \\$", text, re.M)
        and text.rstrip().endswith('"$@"')
        or text.rstrip().endswith('"${args[@]}"')
    )
    conf = re.search(r"train_config=(\S+)", text)
    assert conf and all(
        (EGS2 / name / "diar1" / c).is_file() for c in re.findall(r"train_config=(conf/\S+\.yaml)", text)
    )


def test_template_is_a_few_hundred_lines():
    # 8 stages, the enrollment-free first pass (speaker model, decoding) and the decode-option
    # search among them; beyond this, move a stage's body into a utils/ script
    lines = len((TEMPLATE / "tsdia.sh").read_text().splitlines())
    assert 200 <= lines <= 700, lines
    for f in ("tsdia.sh", "utils/run_local.sh", "utils/run_slurm.sh", "utils/link_recipe.sh"):
        assert os.access(TEMPLATE / f, os.X_OK), f


def test_no_machine_paths_in_recipes():
    """Committed recipe and template files hold no absolute path of this machine."""
    tracked = subprocess.run(["git", "ls-files", "egs2"], cwd=REPO, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    bad = []
    for rel in tracked:
        p = REPO / rel
        if p.is_file() and not p.is_symlink():
            text = p.read_text(errors="replace")
            bad += [rel for needle in (str(REPO), "/work/", "/home/", "/tmp/") if needle in text]
    assert bad == []


@pytest.mark.parametrize("name", ["aishell4", "ami", "ava_avd", "chime6", "icsi", "libricss", "msdwild", "voxconverse"])
def test_run_sh_scores_and_validates_as_the_corpus_says(name):
    """run.sh's collar and speaker scope agree with conf/corpus.yaml (the corpus engineer's facts)."""
    recipe = EGS2 / name / "diar1"
    conf = yaml.safe_load((recipe / "conf" / "corpus.yaml").read_text())
    text = (recipe / "run.sh").read_text()
    collar = re.search(r"--collar ([0-9.]+)", text)
    assert collar and float(collar.group(1)) == conf["scoring"]["collar"]
    assert ("--skip_overlap" in text) == conf["scoring"]["skip_overlap"]
    assert ("--global_speakers" in text) == (conf["speakers"].split()[0] == "global")
    splits = {s["data_dir"] for s in conf["splits"].values()}
    sets = re.findall(r'^(?:train_set|valid_set|test_sets)="?([^"\n]+)"?$', text, re.M)
    assert sets and {s for group in sets for s in group.split()} <= splits


def test_every_recipe_is_listed_and_documented():
    # the recipe dirs on disk are the list above, each has a row in README's recipe table and a
    # section of docs/corpora.md naming its dir and its prepare function
    assert sorted(d.parent.name for d in EGS2.glob("*/diar1") if d.parent.name != "TEMPLATE") == RECIPES
    readme_rows = set(re.findall(r"^\| `(\w+)` \|", (REPO / "README.md").read_text(), re.M))
    docs = (REPO / "docs" / "corpora.md").read_text()
    documented = dict(re.findall(r"^Recipe: `egs2/(\w+)/diar1`(?: \(`([\w.]+)`\))?\.$", docs, re.M))
    assert sorted(readme_rows & set(RECIPES)) == RECIPES
    assert sorted(documented) == RECIPES
    for name in RECIPES:
        corpus = EGS2 / name / "diar1" / "conf" / "corpus.yaml"
        if corpus.is_file():
            assert documented[name] == yaml.safe_load(corpus.read_text())["prepare"], name
