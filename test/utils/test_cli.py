"""espnet2_tsdia.utils.cli: the option types shell scripts pass, and --config yaml files."""

from __future__ import annotations

import argparse

import pytest
import yaml

from espnet2_tsdia.utils import cli


def test_shell_values_and_types_round_trip():
    assert cli.str_list("a b,c ") == ["a", "b", "c"] and cli.str_list("") == []
    assert [cli.str2bool(v) for v in ("true", "False", "1", "no")] == [True, False, True, False]
    with pytest.raises(argparse.ArgumentTypeError, match="expected true or false, got 'maybe'"):
        cli.str2bool("maybe")
    assert [cli.shell_value(v) for v in (None, True, ["a", "b"], 0.5)] == ["", "true", "a b", "0.5"]
    assert cli.str_list(cli.shell_value(["train", "dev"])) == ["train", "dev"]


def parser() -> cli.ArgumentParser:
    p = cli.get_parser("Usage:\n    python -m tool --x 1\n", prog="tool", config=True)
    p.add_argument("--x", type=int, default=0, help="a number")
    p.add_argument("--flag", type=cli.str2bool, default=False)
    p.add_argument("--mode", default="a", choices=["a", "b"])
    p.add_argument("--conf", default=None)
    p.add_argument("--out", required=True)
    return p


def write(tmp_path, values) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def test_config_sets_defaults_and_the_command_line_wins(tmp_path):
    path = write(tmp_path, {"x": 3, "flag": True, "mode": "b", "conf": {"n_mels": 23}, "out": "o"})
    args = parser().parse_args(["--config", path])
    assert (args.x, args.flag, args.mode, args.conf, args.out) == (3, True, "b", {"n_mels": 23}, "o")
    args = parser().parse_args(["--config", path, "--x", "5", "--out", "p"])
    assert (args.x, args.out) == (5, "p")


@pytest.mark.parametrize(
    "values, message",
    [
        ({"y": 1}, "y: not an option of tool"),
        ({"x": "three"}, "x: invalid literal for int() with base 10: 'three'"),
        ({"flag": "maybe"}, "flag: expected true or false, got 'maybe'"),
        ({"mode": "c"}, "mode: invalid choice 'c' (choose from a, b)"),
        (["x", 1], "expected a mapping of option names to values, got list"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(tmp_path, capsys, values, message):
    path = write(tmp_path, values)
    with pytest.raises(SystemExit) as e:
        parser().parse_args(["--config", path, "--out", "o"])
    assert e.value.code == 2
    assert capsys.readouterr().err == f"tool: error: --config {path}: {message}\n"


def test_missing_config_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--config", str(tmp_path / "none.yaml"), "--out", "o"])
    err = capsys.readouterr().err
    assert err.startswith(f"tool: error: --config {tmp_path / 'none.yaml'}: ") and err.count("\n") == 1


def test_help_shows_the_docstring_as_written(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "Usage:\n    python -m tool --x 1\n" in out and "(default: 0)" in out


def test_run_maps_errors_to_exit_statuses(capsys):
    def bad_input():
        raise FileNotFoundError("x.wav: no such file")

    def failed():
        raise RuntimeError("download of u: md5 mismatch\nremove the file")

    assert cli.run(bad_input, prog="t") == 2
    assert cli.run(failed, prog="t", failures=(RuntimeError,)) == 1
    assert cli.run(lambda: None, prog="t") == 0
    assert capsys.readouterr().err.splitlines() == [
        "t: error: x.wav: no such file",
        "t: error: download of u: md5 mismatch remove the file",
    ]
