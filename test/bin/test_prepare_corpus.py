"""prepare_corpus: one sub-command per registered corpus, built from the corpus module's own
declaration (``CLI = CorpusCli(...)``), with the same actions everywhere."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import soundfile

from espnet2_tsdia.bin import prepare_corpus
from espnet2_tsdia.corpora import registry
from espnet2_tsdia.corpora.cli import CorpusCli
from espnet2_tsdia.corpora.common import write_split
from espnet2_tsdia.formats.rttm import Turn
from espnet2_tsdia.utils.cli import shell_value


def own_options(corpus: str):
    args = prepare_corpus.get_parser().parse_args([corpus, "options"])
    return args.own_options


@pytest.mark.parametrize("corpus", registry.CORPORA)
def test_every_corpus_declares_options_a_shell_script_can_pass(corpus):
    """What ``options`` prints, given back as ``--name value``, parses to the declared default:
    so local/data.sh passing every default explicitly changes nothing."""
    spec = registry.corpus_cli(corpus)
    assert isinstance(spec, CorpusCli) and spec.summary
    parser = prepare_corpus.get_parser()
    given = [corpus, "dirs"]
    for action in own_options(corpus):
        value = shell_value(action.default)
        if value:
            given += [action.option_strings[0], value]
    parsed = vars(parser.parse_args(given))
    defaults = vars(parser.parse_args([corpus, "dirs"]))
    assert {a.dest: parsed[a.dest] for a in own_options(corpus)} == {
        a.dest: defaults[a.dest] for a in own_options(corpus)
    }
    assert spec.data_dirs(parser.parse_args(given)) == spec.data_dirs(parser.parse_args([corpus, "dirs"]))


def test_options_action_lists_name_default_help(capsys):
    assert prepare_corpus.main(["ami", "options"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [r[0] for r in rows] == ["stream", "reference", "splits", "setup_dir", "missing_ok"]
    assert [r[1] for r in rows] == ["Mix-Headset", "only_words", "train dev test", "", "false"]
    assert all(len(r) == 3 and r[2] for r in rows)


def test_dirs_follow_the_options(capsys):
    assert prepare_corpus.main(["ami", "dirs", "--out_dir", "d", "--stream", "Array1-01", "--splits", "dev,test"]) == 0
    assert capsys.readouterr().out.splitlines() == ["d/ami_sdm_dev", "d/ami_sdm_test"]
    assert prepare_corpus.main(["aishell4", "dirs", "--parts", "train_L test", "--num_dev", "0"]) == 0
    assert capsys.readouterr().out.splitlines() == ["data/aishell4_train", "data/aishell4_test"]
    assert prepare_corpus.main(["offline_speech", "dirs", "--out_dir", "db/x"]) == 0
    assert capsys.readouterr().out.splitlines() == ["db/x/data"]


def test_options_that_take_no_single_value_are_refused(monkeypatch):
    """A flag (store_true) cannot be passed on by local/data.sh as --name value."""
    spec = registry.corpus_cli("voxconverse")

    def add(p: argparse.ArgumentParser) -> None:
        spec.add_arguments(p)
        p.add_argument("--fast", action="store_true")

    bad = CorpusCli(summary="x", add_arguments=add, prepare=spec.prepare, data_dirs=spec.data_dirs)
    monkeypatch.setattr(prepare_corpus, "corpus_cli", lambda name: bad)
    monkeypatch.setattr(prepare_corpus, "all_corpus_clis", lambda: {"voxconverse": bad})
    with pytest.raises(TypeError, match="option fast does not take exactly one value"):
        prepare_corpus.main(["voxconverse", "options"])


def test_unknown_corpus_and_missing_declaration(monkeypatch):
    with pytest.raises(ValueError, match="unknown corpus 'timit'; registered: ami, icsi"):
        registry.corpus_cli("timit")
    monkeypatch.setattr(registry, "CORPORA", (*registry.CORPORA, "common"))
    with pytest.raises(TypeError, match=r"espnet2_tsdia.corpora.common has no CLI = CorpusCli\(...\)"):
        registry.corpus_cli("common")


def _voxconverse_dir(out, fs: int) -> None:
    wav = out / "audio" / "abc.wav"
    wav.parent.mkdir(parents=True)
    soundfile.write(str(wav), np.zeros(fs * 2, dtype=np.int16), fs)
    write_split(
        out / "voxconverse_dev",
        wav_scp={"abc": str(wav)},
        turns=[Turn("abc", 0.5, 1.0, "spk00")],
        reco2dur={"abc": 2.0},
    )


@pytest.mark.parametrize("fs, status", [(16000, 0), (8000, 1)])
def test_validate_uses_the_corpus_rules(tmp_path, capsys, fs, status):
    """VoxConverse dirs must be 16 kHz: a dir at 8 kHz is reported unusable (exit status 1)."""
    _voxconverse_dir(tmp_path, fs)
    argv = ["voxconverse", "validate", "--out_dir", str(tmp_path), "--splits", "dev", "--log_level", "ERROR"]
    assert prepare_corpus.main(argv) == status
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(f"{tmp_path / 'voxconverse_dev'}: ") and last.endswith(
        "NOT usable" if status else ": usable"
    )


def test_validate_names_a_missing_dir(tmp_path):
    argv = ["voxconverse", "validate", "--out_dir", str(tmp_path), "--splits", "dev", "--log_level", "ERROR"]
    assert prepare_corpus.main(argv) == 2
