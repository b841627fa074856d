"""The offline demo recipe end to end at its CI size (``./run.sh --demo_size tiny``): every stage,
from the offline speech corpus to a DER table with both trivial baselines and a packed model.
Marked ``demo`` (about 1-2 minutes on 2 cores); skipped when the Debian speech packages are
missing (tools/install.sh installs them)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Set

import pytest

from test.recipes.helpers import check, need_install, run, scratch_recipe

ROW = r"^\| {name} \| (\d+\.\d\d) \| (\d+\.\d\d) \| (\d+\.\d\d) \| (\d+\.\d\d) \|$"


def base_speakers(rttm: Path) -> Set[str]:
    """Speakers of an RTTM, pitch-shifted pseudo-speakers (<spk>_p<name>) counted as their voice."""
    return {re.sub(r"_p[a-z0-9]+$", "", ln.split()[7]) for ln in rttm.read_text().splitlines()}


@pytest.mark.demo
@pytest.mark.slow
def test_tiny_demo_runs_every_stage(tmp_path):
    need_install()
    from espnet2_tsdia.corpora.offline_speech import missing_sources

    missing = missing_sources()
    if missing:
        pytest.skip("Debian speech packages missing (tools/install.sh installs them): " + "; ".join(missing.values()))
    recipe = scratch_recipe(tmp_path, "offline_demo")
    check(run(["./run.sh", "--demo_size", "tiny"], recipe, timeout=900))

    # test speakers are never heard in training or validation
    test_spk = base_speakers(recipe / "data" / "test" / "rttm")
    assert test_spk and not test_spk & (
        base_speakers(recipe / "data" / "train" / "rttm") | base_speakers(recipe / "data" / "dev" / "rttm")
    )

    exp = recipe / "exp" / "tsdia_demo_tiny"
    text = (exp / "RESULTS.md").read_text()
    rows = {}
    for name in ("model", "all silence", "every target always speaking"):
        m = re.search(ROW.format(name=re.escape(name)), text, re.M)
        assert m, f"no row {name!r} in\n{text}"
        rows[name] = [float(x) for x in m.groups()]
    assert rows["all silence"] == [100.0, 100.0, 0.0, 0.0]
    der, miss, fa, conf = rows["every target always speaking"]
    assert miss == 0.0 and conf == 0.0 and fa == der > 0
    der, miss, fa, conf = rows["model"]
    assert abs(der - (miss + fa + conf)) <= 0.02
    # per-recording tables and the hypothesis are where the summary says
    decode = exp / "decode_valid.loss.ave" / "test"
    assert (decode / "score_hyp" / "RESULTS.md").is_file() and (decode / "hyp.rttm").is_file()
    assert list((decode / "plots").glob("*.png"))

    with zipfile.ZipFile(exp / "demo_tiny.zip") as z:
        names = z.namelist()
    assert (
        "meta.yaml" in names
        and any(n.endswith("config.yaml") for n in names)
        and any(n.endswith(".pth") for n in names)
    )
    assert any(n.endswith("fbank.yaml") for n in names) and any(n.endswith("RESULTS.md") for n in names)
