"""Every command-line tool follows one convention (espnet2_tsdia.utils.cli): ``--help`` shows the
module's Usage block, ``--log_level`` is there, and bad input ends with one line
``<tool>: error: <message>`` on stderr and exit status 2."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from espnet2_tsdia.utils import cli

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "espnet2_tsdia" / "bin"
TOOLS = sorted(p.stem for p in BIN.glob("*.py") if p.stem != "__init__")


def first_usage_command(doc: str, tool: str) -> str:
    """The first line of the docstring's Usage block that runs the tool."""
    lines = doc.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "Usage:")
    command = next(ln.strip() for ln in lines[start + 1 :] if ln.strip().startswith("python -m "))
    assert command.startswith(f"python -m espnet2_tsdia.bin.{tool}"), f"{tool}: first Usage command is {command!r}"
    return command


def help_text(tool: str, capsys) -> str:
    module = importlib.import_module(f"espnet2_tsdia.bin.{tool}")
    try:
        module.main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("tool", TOOLS)
def test_help_shows_the_usage_block_and_log_level(tool, capsys):
    module = importlib.import_module(f"espnet2_tsdia.bin.{tool}")
    command = first_usage_command(module.__doc__ or "", tool)
    text = help_text(tool, capsys)
    assert command.rstrip("\\").strip() in text
    if tool not in SUBCOMMANDS:
        assert "--log_level" in text


#: tools whose options belong to a sub-command: one of them
SUBCOMMANDS = {"config": "check", "eend_baseline": "prepare", "prepare_corpus": "ami"}


@pytest.mark.parametrize("tool", sorted(SUBCOMMANDS))
def test_subcommands_take_log_level(tool, capsys):
    module = importlib.import_module(f"espnet2_tsdia.bin.{tool}")
    with pytest.raises(SystemExit) as e:
        module.main([SUBCOMMANDS[tool], "--help"])
    assert e.value.code == 0 and "--log_level" in capsys.readouterr().out


#: per tool, a command line naming a file that does not exist (tsdia_train: ESPnet's own parser)
MISSING = {
    "config": ["check", "{x}/c.yaml"],
    "describe": ["{x}/d", "--out_dir", "{x}/o"],
    "eend_baseline": ["prepare", "{x}/o", "--rttm", "{x}/ref.rttm", "--feats_scp", "{x}/feats.scp"],
    "diarize": ["{x}/a.wav", "--model", "{x}/m.zip", "--enroll", "a={x}/b.wav", "-o", "{x}/o.rttm"],
    "extract_feats": ["{x}/ex"],
    "fix_data_dir": ["{x}/d"],
    "make_enroll_clips": ["{x}/src", "{x}/ref.rttm", "{x}/out"],
    "make_spk_data": ["{x}/d", "{x}/o", "--fs", "8000"],
    "make_tsdia_examples": ["{x}/d", "{x}/ex"],
    "materialize": ["{x}/d", "{x}/wav"],
    "pack_model": ["--train_config", "{x}/c.yaml", "--model_file", "{x}/m.pth", "--outpath", "{x}/m.zip"],
    "plot_lr": ["{x}/c.yaml", "-o", "{x}/lr.png"],
    "prepare_corpus": ["voxconverse", "--corpus_dir", "{x}/vc", "--out_dir", "{x}/data"],
    "prepare_librispeech": ["--corpus_dir", "{x}/ls", "--out_dir", "{x}/data"],
    "prepare_offline_speech": ["--out_dir", "{x}/o", "--sources", "xx_nobody"],
    "render_mixture": ["{x}/specs.jsonl", "r1"],
    "simulate": ["--verify", "{x}/d"],
    "tsdia_inference": [
        "--model_tag",
        "{x}/m.zip",
        "--enrollment",
        "clips",
        "--data_path_and_name_and_type",
        "{x}/wav.scp,speech,sound",
        "--output_dir",
        "{x}/o",
    ],
    "tsdia_score": ["--ref", "{x}/ref.rttm", "--hyp", "{x}/hyp.rttm", "--out_dir", "{x}/o"],
    "tune_decode": ["--posteriors", "{x}/p.scp", "--ref", "{x}/r.rttm", "--grid", "{x}/g.yaml", "--out_dir", "{x}/o"],
    "tune": ["--config", "{x}/c.yaml", "--output_dir", "{x}/o"],
}


def test_every_tool_has_a_bad_input_case():
    assert sorted(MISSING) == sorted(t for t in TOOLS if t not in ("tsdia_train", "validate_data_dir"))


def run_main(tool: str, argv: List[str]) -> int:
    module = importlib.import_module(f"espnet2_tsdia.bin.{tool}")
    try:
        return module.main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("tool", sorted(MISSING))
def test_bad_input_is_one_line_and_exit_2(tool, tmp_path, capsys):
    argv = [a.format(x=tmp_path) for a in MISSING[tool]]
    assert run_main(tool, argv) == cli.BAD_INPUT
    err = capsys.readouterr().err.splitlines()
    prog = "prepare_corpus voxconverse" if tool == "prepare_corpus" else tool
    assert len(err) == 1 and err[0].startswith(f"{prog}: error: "), err
    assert str(tmp_path) in err[0] or "xx_nobody" in err[0]  # names what is wrong
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_usage_error_is_one_line_on_the_real_stderr(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "espnet2_tsdia.bin.tsdia_score", "--ref", "r.rttm", "--collar"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["tsdia_score: error: argument --collar: expected one argument"]


def test_validate_data_dir_reports_a_missing_dir_as_unusable(tmp_path, capsys):
    """validate_data_dir's answer about a dir is its report (exit 1), not a usage error."""
    from espnet2_tsdia.bin import validate_data_dir

    assert validate_data_dir.main([str(tmp_path / "d")]) == 1
    assert capsys.readouterr().out.splitlines()[-1].endswith("NOT usable")
