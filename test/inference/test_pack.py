"""Model-zoo zips: pack -> from_pretrained in a fresh process, zip-slip and corrupt archives refused."""

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from espnet2_tsdia.inference.pack import ModelArchiveError, check_model_archive, pack_model, unpack_model
from espnet2_tsdia.inference.speech2tsdia import Speech2TSDiarization

REPO = Path(__file__).resolve().parents[2]
FS = 8000


def tiny_config(stats_file: str, attention: str = "linear") -> dict:
    """A config.yaml as ESPnet's trainer writes it for TSDiarizationTask (only what build_model reads)."""
    return {
        "frontend": "tsdia_fbank",
        "frontend_conf": {},
        "normalize": "global_mvn",
        "normalize_conf": {"stats_file": stats_file},
        "input_size": None,
        "model_type": "encoder",
        "model_type_conf": {},
        "encoder": "transformer",
        "encoder_conf": {"d_model": 16, "num_layers": 1, "num_heads": 2, "attention_type": attention, "nb_features": 8},
        "decoder": "transformer",
        "decoder_conf": {},
        "label_scheme": "powerset",
        "max_speakers": 4,
        "loss_conf": {},
        "eval_knobs": {"batch_size": 4, "sliding_window": 40},
    }


def make_training_dir(root: Path) -> Path:
    """exp/train with config.yaml (relative stats path, as recipes write it), stats and a model."""
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    exp = root / "exp" / "train"
    (root / "exp" / "stats").mkdir(parents=True)
    exp.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(
        root / "exp" / "stats" / "feats_stats.npz",
        count=np.array(100.0),
        sum=rng.standard_normal(345) * 10,
        sum_square=np.full(345, 400.0),
    )
    cfg = tiny_config("exp/stats/feats_stats.npz")
    (exp / "config.yaml").write_text(yaml.safe_dump(cfg))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        torch.manual_seed(0)
        import argparse

        model = TSDiarizationTask.build_model(argparse.Namespace(**cfg))
    finally:
        os.chdir(cwd)
    torch.save(model.state_dict(), exp / "valid.loss.ave.pth")
    (exp / "RESULTS.md").write_text("# RESULTS\n\n| DER |\n|---|\n| 12.3 |\n")
    return exp


SCRIPT = """
import sys, numpy as np
from espnet2_tsdia.inference.speech2tsdia import Speech2TSDiarization
s2d = Speech2TSDiarization.from_pretrained(sys.argv[1], cachedir=sys.argv[2])
data = np.load(sys.argv[3])
r = s2d(data["speech"], reco="r", enroll_clips={"a": data["clip"]}, enroll_regions={"b": (5, 25)})
np.savez(sys.argv[4], **r.posteriors)
"""


def test_pack_then_load_in_a_fresh_process_gives_identical_posteriors(tmp_path, monkeypatch):
    root = tmp_path / "recipe"
    root.mkdir()
    exp = make_training_dir(root)
    monkeypatch.chdir(root)
    rng = np.random.default_rng(1)
    speech = (0.1 * rng.standard_normal(6 * FS)).astype(np.float32)
    clip = (0.1 * rng.standard_normal(FS)).astype(np.float32)
    before = Speech2TSDiarization.from_files(exp / "config.yaml", exp / "valid.loss.ave.pth")
    assert before.window is None and before.knobs.batch_size == 4  # linear: one pass despite sliding_window
    want = before(speech, reco="r", enroll_clips={"a": clip}, enroll_regions={"b": (5, 25)}).posteriors

    zip_path = pack_model(
        train_config=exp / "config.yaml",
        model_file=exp / "valid.loss.ave.pth",
        outpath=tmp_path / "model.zip",
        results_md=exp / "RESULTS.md",
    )
    with zipfile.ZipFile(zip_path) as zf:
        assert sorted(zf.namelist()) == [
            "exp/train/RESULTS.md",
            "exp/train/config.yaml",
            "exp/train/feats_stats.npz",
            "exp/train/model.pth",
            "meta.yaml",
        ]
        meta = yaml.safe_load(zf.read("meta.yaml"))
        assert meta["files"] == {"model_file": "exp/train/model.pth"}
        assert meta["yaml_files"] == {"train_config": "exp/train/config.yaml"}
        packed = yaml.safe_load(zf.read("exp/train/config.yaml"))
        assert packed["normalize_conf"]["stats_file"] == "exp/train/feats_stats.npz"
    monkeypatch.chdir(tmp_path)
    import shutil

    shutil.rmtree(root)  # the zip alone must do

    np.savez(tmp_path / "input.npz", speech=speech, clip=clip)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(zip_path),
            str(tmp_path / "cache"),
            str(tmp_path / "input.npz"),
            str(tmp_path / "out.npz"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = np.load(tmp_path / "out.npz")
    assert sorted(got.files) == ["a", "b"]
    for spk in ("a", "b"):
        np.testing.assert_array_equal(got[spk], want[spk])
    files = unpack_model(zip_path, cachedir=tmp_path / "cache")
    unpacked = yaml.safe_load(Path(files["train_config"]).read_text())
    stats = Path(unpacked["normalize_conf"]["stats_file"])
    assert stats.is_file() and stats.is_relative_to(tmp_path / "cache")


def _zip(path: Path, members: dict, meta=None, links=()):
    with zipfile.ZipFile(path, "w") as zf:
        if meta is not None:
            zf.writestr("meta.yaml", yaml.safe_dump(meta))
        for name, data in members.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


META = {"files": {"model_file": "exp/m/model.pth"}, "yaml_files": {"train_config": "exp/m/config.yaml"}}


@pytest.mark.parametrize(
    "name, why",
    [
        ("../evil.pth", "contains '..'"),
        ("exp/../../evil.pth", "contains '..'"),
        ("/tmp/evil.pth", "is an absolute path"),
        ("exp\\..\\evil.pth", "backslash"),
    ],
)
def test_zip_slip_member_is_refused_before_anything_is_written(tmp_path, name, why):
    good = {"exp/m/model.pth": b"x", "exp/m/config.yaml": b"a: 1\n"}
    archive = _zip(tmp_path / "model.zip", {**good, name: b"owned"}, META)
    with pytest.raises(ModelArchiveError, match=f"refused: member .* {why}"):
        check_model_archive(archive)
    with pytest.raises(ModelArchiveError, match="could be written outside the unpack folder"):
        Speech2TSDiarization.from_pretrained(archive, cachedir=tmp_path / "cache")
    assert not (tmp_path / "evil.pth").exists() and not (tmp_path / "cache").exists()


def test_symlink_member_is_refused(tmp_path):
    archive = _zip(
        tmp_path / "model.zip", {"exp/m/model.pth": b"x", "exp/m/config.yaml": b"a: 1\n"}, META, links=["exp/m/link"]
    )
    with pytest.raises(ModelArchiveError, match="'exp/m/link' is a symbolic link"):
        check_model_archive(archive)


def test_corrupt_archives_give_clear_errors(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ModelArchiveError, match=r"junk.zip: not a valid zip archive"):
        unpack_model(junk, cachedir=tmp_path / "cache")

    good = _zip(tmp_path / "good.zip", {"exp/m/model.pth": b"0123456789" * 100, "exp/m/config.yaml": b"a: 1\n"}, META)
    data = good.read_bytes()
    (tmp_path / "truncated.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelArchiveError, match="truncated.zip: not a valid zip archive"):
        check_model_archive(tmp_path / "truncated.zip")

    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("exp/m/model.pth")
    offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 500
    flipped = bytearray(data)
    flipped[offset] ^= 0xFF
    (tmp_path / "flipped.zip").write_bytes(bytes(flipped))
    with pytest.raises(ModelArchiveError, match="corrupt archive: member 'exp/m/model.pth' fails its CRC check"):
        check_model_archive(tmp_path / "flipped.zip")

    with pytest.raises(ModelArchiveError, match="no such model archive"):
        unpack_model(tmp_path / "missing.zip", cachedir=tmp_path / "cache")


def test_incomplete_meta_is_refused(tmp_path):
    no_meta = _zip(tmp_path / "a.zip", {"exp/m/model.pth": b"x"})
    with pytest.raises(ModelArchiveError, match="no meta.yaml"):
        check_model_archive(no_meta)
    meta = {"files": {}, "yaml_files": {"train_config": "exp/m/config.yaml"}}
    no_model = _zip(tmp_path / "b.zip", {"exp/m/config.yaml": b"a: 1\n"}, meta)
    with pytest.raises(ModelArchiveError, match="has no 'model_file' entry"):
        check_model_archive(no_model)
    dangling = _zip(tmp_path / "c.zip", {"exp/m/config.yaml": b"a: 1\n"}, META)
    with pytest.raises(ModelArchiveError, match="names model_file='exp/m/model.pth', which is not in the archive"):
        check_model_archive(dangling)


def test_stored_feature_model_gets_its_frontend_from_the_packed_config(tmp_path):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    cfg = {**tiny_config("unused"), "frontend": None, "input_size": 345, "normalize": None, "normalize_conf": {}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    import argparse

    torch.save(TSDiarizationTask.build_model(argparse.Namespace(**cfg)).state_dict(), tmp_path / "model.pth")
    (tmp_path / "fbank.yaml").write_text("fs: 8000\nhop_length: 80\nsubsampling: 10\nmean_norm: false\n")
    zip_path = pack_model(
        train_config=tmp_path / "config.yaml",
        model_file=tmp_path / "model.pth",
        outpath=tmp_path / "m.zip",
        frontend_conf=tmp_path / "fbank.yaml",
    )
    s2d = Speech2TSDiarization.from_pretrained(zip_path, cachedir=tmp_path / "cache")
    assert s2d.model.frontend is None and s2d.frontend.mean_norm is False and s2d.fs == 8000
    plain = Speech2TSDiarization.from_files(tmp_path / "config.yaml", tmp_path / "model.pth")
    assert plain.frontend.mean_norm is True  # nothing packed: the standard frontend


def test_inference_config_is_packed_under_its_key_and_checked(tmp_path, monkeypatch):
    from espnet2_tsdia.inference.model_files import INFERENCE_CONFIG_KEY, ModelLoadError, read_inference_config

    exp = make_training_dir(tmp_path)
    monkeypatch.chdir(tmp_path)  # the config's stats path is relative to the recipe dir
    (tmp_path / "best.yaml").write_text("threshold: 0.4\nclustering: agglomerative\ncluster_threshold: 0.6\n")
    args = dict(train_config=exp / "config.yaml", model_file=exp / "valid.loss.ave.pth")
    zip_path = pack_model(**args, outpath=tmp_path / "m.zip", inference_config=tmp_path / "best.yaml")
    files = unpack_model(zip_path, cachedir=tmp_path / "cache")
    assert Path(files[INFERENCE_CONFIG_KEY]).name == "decode.yaml"
    assert read_inference_config(files) == {"threshold": 0.4, "clustering": "agglomerative", "cluster_threshold": 0.6}
    # without one there is nothing to read; a yaml that is not a mapping is refused before packing
    plain = unpack_model(pack_model(**args, outpath=tmp_path / "p.zip"), cachedir=tmp_path / "cache")
    assert INFERENCE_CONFIG_KEY not in plain and read_inference_config(plain) == {}
    (tmp_path / "bad.yaml").write_text("- 0.4\n")
    with pytest.raises(ModelLoadError, match="bad.yaml: the packed inference config must be a mapping"):
        pack_model(**args, outpath=tmp_path / "b.zip", inference_config=tmp_path / "bad.yaml")
    assert not (tmp_path / "b.zip").exists()
