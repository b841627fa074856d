"""prepare_ego4d on a tiny Ego4D AV benchmark in the layout the ``ego4d`` CLI writes.

Where the layout comes from: the AV annotation schema of EGO4D/docs
(``docs/benchmarks/av-diarization.md``: videos -> clips -> persons -> voice_segments with
start_time/end_time/person, the camera_wearer object), EGO4D/audio-visual's audio-only baseline
(``generate_voice_rttms.py``: labels from ``person``, ``:-1`` noise sources skipped, zero-length
segments skipped; ``video2audio.py``: ffmpeg ``-ac 1 -ar 16000``; its README: ``--datasets clips
annotations``, ``<dir>/v1/clips``, ``annotations/av_val.json``), a public AV preprocessing script that
reads persons with ``camera_wearer`` per frame, and the Ego4D CLI README (``<output_directory>/v2/...``,
``--version``, ``-y``). Clip ids are ids of the public val list; times and persons are made up;
the clips are short silent mp4 files (the real ones last 5 minutes).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from espnet2_tsdia.corpora.common import MissingAudioError
from espnet2_tsdia.corpora.ego4d import download_ego4d, prepare_ego4d, read_av_json
from espnet2_tsdia.data.datadir import PrepReport
from espnet2_tsdia.data.describe import describe_data_dir, markdown_table
from espnet2_tsdia.formats.errors import DataFormatError
from test.corpora.native import (
    check_corpus_yaml,
    data_files,
    label_conversion,
    rttm_rows,
    validate,
    write_movie,
    write_text,
)

TRAIN_CLIP = "c2413391-7c1b-4fd6-8b1d-98ee7888b9f8"
TRAIN_CLIP2 = "fe69a78e-7773-45d1-9e0f-bacee52dac83"
VAL_CLIP = "3b79017c-4d42-40fc-a1bb-4a20bc8ebca7"
SECONDS = {TRAIN_CLIP: 20.0, TRAIN_CLIP2: 12.0, VAL_CLIP: 15.0}


def seg(start, end, person, fps=30.0):
    return {
        "start_time": start,
        "end_time": end,
        "start_frame": int(start * fps),
        "end_frame": int(end * fps),
        "video_start_time": 600.0 + start,
        "video_end_time": 600.0 + end,
        "video_start_frame": int((600.0 + start) * fps),
        "video_end_frame": int((600.0 + end) * fps),
        "person": person,
    }


def person(pid, wearer, segments):
    return {"person_id": pid, "camera_wearer": wearer, "tracking_paths": [], "voice_segments": segments}


def clip(uid, persons, end=300.0):
    return {
        "clip_uid": uid,
        "source_clip_uid": uid,
        "video_uid": "v-" + uid[:8],
        "video_start_sec": 600.0,
        "video_end_sec": 600.0 + end,
        "video_start_frame": 18000,
        "video_end_frame": 18000 + int(end * 30),
        "clip_start_sec": 0,
        "clip_end_sec": end,
        "clip_start_frame": 0,
        "clip_end_frame": int(end * 30),
        "valid": True,
        "camera_wearer": next((p for p in persons if p["camera_wearer"]), None),
        "persons": persons,
        "missing_voice_segments": [],
        "transcriptions": [],
        "social_segments_talking": [],
        "social_segments_looking": [],
    }


def av_json(split, clips):
    videos = {}
    for c in clips:
        videos.setdefault(c["video_uid"], []).append(c)
    return {
        "date": "2022-01-01",
        "version": "v2",
        "description": "AV diarization",
        "videos": [{"video_uid": v, "split": split, "clips": cs} for v, cs in videos.items()],
    }


ANNOTATIONS = {
    "train": av_json(
        "train",
        [
            clip(
                TRAIN_CLIP,
                [
                    person("1", True, [seg(1.0, 3.5, "1"), seg(3.0, 4.0, "1"), seg(12.0, 12.0, "1")]),
                    person("2", False, [seg(2.5, 6.0, "2"), seg(15.0, 21.0, "2")]),
                    person("3", False, [seg(8.0, 9.0, ":-1"), {"person": "3"}]),
                ],
            ),
            clip(TRAIN_CLIP2, [person("1", True, [seg(0.5, 2.0, "1")]), person("2", False, [seg(1.5, 4.0, "2")])]),
        ],
    ),
    "val": av_json(
        "val", [clip(VAL_CLIP, [person("1", True, [seg(0.0, 5.0, "1")]), person("4", False, [seg(5.0, 9.0, "4")])])]
    ),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ego4d_clips")
    source = write_movie(d / f"{TRAIN_CLIP}.mp4", SECONDS[TRAIN_CLIP], sample_rate=48000)
    for uid in (TRAIN_CLIP2, VAL_CLIP):
        write_movie(d / f"{uid}.mp4", SECONDS[uid], source=source)
    return d


def build_ego4d(root: Path, clips: Path, *, version: str = "v2") -> Path:
    for split, data in ANNOTATIONS.items():
        write_text(root / version / "annotations" / f"av_{split}.json", json.dumps(data))
    (root / version / "clips").mkdir(parents=True)
    for movie in clips.iterdir():
        os.symlink(movie, root / version / "clips" / movie.name)
    return root


def test_prepare(tmp_path, clips):
    corpus = build_ego4d(tmp_path / "ego", clips)
    reports = prepare_ego4d(corpus, tmp_path / "data", nj=2)
    assert sorted(reports) == ["ego4d_train", "ego4d_val"]
    train = data_files(tmp_path / "data" / "ego4d_train")
    audio = corpus.absolute() / "v2" / "audio"
    assert train["wav.scp"] == [f"{TRAIN_CLIP} {audio / TRAIN_CLIP}.wav", f"{TRAIN_CLIP2} {audio / TRAIN_CLIP2}.wav"]
    assert train["reco2dur"] == [f"{TRAIN_CLIP} 20", f"{TRAIN_CLIP2} 12"]
    # labels prefixed with the clip; person 1's two overlapping segments merged; person 2's last
    # segment clipped to the audio end; the noise source, the segment without times and the
    # zero-length segment left out
    assert rttm_rows(tmp_path / "data" / "ego4d_train" / "rttm") == [
        (TRAIN_CLIP, "1", f"{TRAIN_CLIP}_1", 1.0, 4.0),
        (TRAIN_CLIP, "1", f"{TRAIN_CLIP}_2", 2.5, 6.0),
        (TRAIN_CLIP, "1", f"{TRAIN_CLIP}_2", 15.0, 20.0),
        (TRAIN_CLIP2, "1", f"{TRAIN_CLIP2}_1", 0.5, 2.0),
        (TRAIN_CLIP2, "1", f"{TRAIN_CLIP2}_2", 1.5, 4.0),
    ]
    r = reports["ego4d_train"]
    assert r.dropped[:2] == [
        f"{TRAIN_CLIP} clip {TRAIN_CLIP} person 3 voice segment 0: labelled ':-1' (a noise source, not a speaker)",
        f"{TRAIN_CLIP} clip {TRAIN_CLIP} person 3 voice segment 1: no start_time/end_time",
    ]
    assert any("[12.000, 12.000]: shorter than 0.01s" in d for d in r.dropped) and len(r.dropped) == 3
    assert r.changed == [
        f"{TRAIN_CLIP} {TRAIN_CLIP}_1: merged 2 overlapping turns [1.000, 3.500], [3.000, 4.000] into [1.000, 4.000]",
        f"{TRAIN_CLIP} {TRAIN_CLIP}_2 [15.000, 21.000]: clipped to the recording end 20.000",
    ]
    import soundfile as sf

    info = sf.info(str(audio / f"{VAL_CLIP}.wav"))
    assert (info.samplerate, info.channels) == (16000, 1)
    for d in reports:
        validate(tmp_path / "data" / d, expected_fs=16000)


def test_describe_row_and_labels(tmp_path, clips):
    corpus = build_ego4d(tmp_path / "ego", clips)
    prepare_ego4d(corpus, tmp_path / "data", splits=["val"])
    row = markdown_table([describe_data_dir(tmp_path / "data" / "ego4d_val")]).splitlines()[2]
    # speech 0-9 s (two turns, no overlap) of the derived audio (15 s of a copied FLAC track,
    # which ends on a whole FLAC frame): silence (dur - 9) / dur, mean turn 4.5 s
    dur = float((tmp_path / "data" / "ego4d_val" / "reco2dur").read_text().split()[1])
    assert 15.0 <= dur < 15.2
    assert row == f"|ego4d_val|1|0.00|2|2.00|2|0.0|{100 * (dur - 9) / dur:.1f}|4.50|"
    assert label_conversion(tmp_path / "data" / "ego4d_val", tmp_path / "labels") == [
        f"{VAL_CLIP}__{VAL_CLIP}_1",
        f"{VAL_CLIP}__{VAL_CLIP}_4",
    ]


def test_bad_corpus(tmp_path, clips):
    corpus = build_ego4d(tmp_path / "ego", clips)
    (corpus / "v2" / "clips" / f"{VAL_CLIP}.mp4").unlink()
    with pytest.raises(
        MissingAudioError, match=rf"clips/{VAL_CLIP}\.mp4: clip '{VAL_CLIP}' \(listed in .*av_val\.json\)"
    ):
        prepare_ego4d(corpus, tmp_path / "data", splits=["val"])
    with pytest.raises(ValueError, match="the Ego4D AV test labels are not public"):
        prepare_ego4d(corpus, tmp_path / "data", splits=["test"])
    ann = corpus / "v2" / "annotations" / "av_train.json"
    data = json.loads(ann.read_text())
    data["videos"][0]["clips"][0]["persons"][1]["voice_segments"][0]["end_time"] = "soon"
    ann.write_text(json.dumps(data))
    with pytest.raises(
        DataFormatError, match=rf"av_train\.json: clip {TRAIN_CLIP} person 2 voice segment 0: times must be numbers"
    ):
        prepare_ego4d(corpus, tmp_path / "data", splits=["train"])
    ann.write_text('{"videos": [')
    with pytest.raises(DataFormatError, match=r"av_train\.json:1: not valid JSON"):
        read_av_json(ann, PrepReport())
    with pytest.raises(FileNotFoundError, match=r"v1/annotations/av_train\.json: Ego4D AV annotations missing"):
        prepare_ego4d(corpus, tmp_path / "data", splits=["train"], version="v1")


FAKE_CLI = """#!{python}
# stands in for the ego4d CLI: records its arguments, writes what it was asked for
import json, shutil, sys
from pathlib import Path
args = sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(json.dumps(args) + "\\n")
out = Path(args[args.index("--output_directory") + 1]) / args[args.index("--version") + 1]
src = Path({src!r})
if "annotations" in args:
    shutil.copytree(src / "annotations", out / "annotations", dirs_exist_ok=True)
if "clips" in args:
    (out / "clips").mkdir(parents=True, exist_ok=True)
    for uid in Path(args[args.index("--video_uid_file") + 1]).read_text().split():
        shutil.copy(src / "clips" / (uid + ".mp4"), out / "clips" / (uid + ".mp4"))
"""


def test_download_with_the_ego4d_cli(tmp_path, clips, monkeypatch):
    src = build_ego4d(tmp_path / "src", clips)
    corpus = tmp_path / "ego"
    with pytest.raises(FileNotFoundError, match=r"the ego4d CLI is not installed\. Ego4D needs its licence agreement"):
        download_ego4d(corpus, ego4d_cli="no-such-ego4d-cli")
    bindir = tmp_path / "bin"
    log = tmp_path / "calls.jsonl"
    script = write_text(bindir / "ego4d", FAKE_CLI.format(python=sys.executable, log=str(log), src=str(src / "v2")))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    download_ego4d(corpus, splits=["val"])
    calls = [json.loads(ln) for ln in log.read_text().splitlines()]
    assert [c[c.index("--datasets") + 1] for c in calls] == ["annotations", "clips"]
    assert all(c[c.index("--version") + 1] == "v2" and "-y" in c for c in calls)
    assert Path(calls[1][calls[1].index("--video_uid_file") + 1]).read_text() == f"{VAL_CLIP}\n"
    assert sorted(prepare_ego4d(corpus, tmp_path / "data", splits=["val"])) == ["ego4d_val"]
    download_ego4d(corpus, splits=["val"])  # complete: the CLI is not run again
    assert len(log.read_text().splitlines()) == 2


def test_corpus_yaml():
    conf = check_corpus_yaml("ego4d", "EGO4D")
    assert "test" not in conf["splits"]
