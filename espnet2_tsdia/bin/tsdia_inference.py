#!/usr/bin/env python3
"""Target-speaker diarization of a data set: posteriors (npy + scp) and an RTTM per run.

Usage:
    # oracle enrollment (from the reference RTTM), model from the training dir
    python -m espnet2_tsdia.bin.tsdia_inference \\
        --train_config exp/tsdia_train/config.yaml --model_file exp/tsdia_train/valid.loss.ave.pth \\
        --config conf/decode.yaml --frontend_conf conf/fbank.yaml \\
        --data_path_and_name_and_type data/test/wav.scp,speech,sound \\
        --data_path_and_name_and_type data/test/rttm,rttm,rttm \\
        --output_dir exp/tsdia_train/decode_test --num_plots 3

    # enrollment clips, packed model
    python -m espnet2_tsdia.bin.tsdia_inference --model_tag exp/tsdia_train/model.zip \\
        --data_path_and_name_and_type data/test/wav.scp,speech,sound \\
        --data_path_and_name_and_type data/test/enroll.scp,enroll,sound \\
        --enrollment clips --output_dir exp/decode_clips

Data (``--data_path_and_name_and_type path,name,type``, ESPnet's form):

- ``speech`` (type ``sound``): wav.scp; files or Kaldi pipes, any rate, resampled to the model's.
- ``rttm`` (type ``rttm``): the reference; needed by ``--enrollment oracle``; drawn in plots.
- ``enroll`` (type ``sound``): ``<speaker> <audio>`` (every recording) or
  ``<reco>__<speaker> <audio>`` (one recording), needed by ``--enrollment clips``.

Writes in ``--output_dir``: ``posteriors/<reco>__<spk>.npy`` (float32 (T, C) class posteriors,
10 frames per second), ``posteriors.scp`` (``<reco>__<spk> <path>``), ``rttm`` (the hypothesis,
speaker names = target names), and with ``--num_plots N`` ``plots/<reco>.timeline.png`` and
``plots/<reco>__<spk>.posteriors.png`` for the first N recordings. Score with
``python -m espnet2_tsdia.bin.tsdia_score --ref data/test/rttm --hyp <output_dir>/rttm ...``.

Options of evaluation (``--batch_size --beam_width --sliding_window --window_overlap
--label_type --max_duration``) and post-processing (``--threshold --median_filter --min_speech
--min_silence --transition_penalty``) default to the config's ``eval_knobs``; given here, they win.
``--config conf/decode.yaml`` sets any of these options from a yaml (keys: option names; nested
values such as a ``frontend_conf:`` mapping included); the command line wins over it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)

DATA_NAMES = {"speech": ("sound", "tsdia_wav"), "rttm": ("rttm",), "enroll": ("sound",)}
CLASS_NAMES = {"powerset": ["silence", "target", "others", "target+others"], "binary": ["not target", "target"]}


def _triple(value: str) -> Tuple[str, str, str]:
    parts = value.rsplit(",", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected 'path,name,type', got {value!r}")
    return parts[0], parts[1], parts[2]


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="tsdia_inference", config=True)
    group = parser.add_argument_group("model")
    group.add_argument("--train_config", default=None, help="config.yaml of the training")
    group.add_argument("--model_file", default=None, help="model state dict (e.g. valid.loss.ave.pth)")
    group.add_argument(
        "--model_tag", default=None, help="packed model: a local zip from pack_model, or a model-zoo tag"
    )
    group.add_argument(
        "--cachedir", default=None, help="where --model_tag is unpacked (default ~/.cache/espnet2_tsdia)"
    )
    group.add_argument("--ngpu", type=int, default=0, help="0: CPU; 1: the first CUDA device")
    group.add_argument(
        "--frontend_conf",
        default=None,
        help="models trained on stored features: yaml of the TSDiaFbankFrontend arguments (conf/fbank.yaml); "
        "in --config, a mapping of them",
    )

    group = parser.add_argument_group("data")
    group.add_argument(
        "--data_path_and_name_and_type",
        type=_triple,
        action="append",
        required=True,
        help="'path,name,type': speech (sound), rttm (rttm), enroll (sound)",
    )
    group.add_argument("--key_file", default=None, help="only the recordings listed (first column) in this file")
    group.add_argument("--output_dir", required=True, help="where posteriors, rttm and plots are written")
    group.add_argument("--channel", default="0", help="channel of multi-channel audio: a 0-based index or 'mean'")

    group = parser.add_argument_group("enrollment")
    group.add_argument("--enrollment", choices=["oracle", "clips"], default="oracle", help="enrollment source")
    group.add_argument("--enroll_max_duration", type=float, default=5.0, help="oracle: longest enrollment (s)")
    group.add_argument("--enroll_min_duration", type=float, default=0.5, help="oracle: shortest usable solo region (s)")

    group = parser.add_argument_group("eval_knobs (default: the config's)")
    group.add_argument("--batch_size", type=int, default=None, help="(target, window) items per forward pass")
    group.add_argument("--beam_width", type=int, default=None, help="1: frame-wise decision; > 1: beam decoding")
    group.add_argument("--sliding_window", type=int, default=None, help="softmax models: window length (frames)")
    group.add_argument("--window_overlap", type=int, default=None, help="frames shared by consecutive windows")
    group.add_argument("--label_type", default=None, help="label scheme of the outputs (must match the training)")
    group.add_argument("--max_duration", type=float, default=None, help="cap on the mixture of one pass (s)")
    group.add_argument("--threshold", type=float, default=None, help="decision threshold on the target probability")
    group.add_argument("--median_filter", type=int, default=None, help="median filter width (odd, frames)")
    group.add_argument("--min_speech", type=float, default=None, help="drop speech runs shorter than this (s)")
    group.add_argument("--min_silence", type=float, default=None, help="fill gaps shorter than this (s)")
    group.add_argument("--transition_penalty", type=float, default=None, help="beam decoding: cost of a class change")

    parser.add_argument(
        "--num_plots", type=int, default=0, help="timeline and posterior pictures of the first N recordings"
    )
    cli.add_log_level(parser)
    return parser


OVERRIDES = (
    "batch_size",
    "beam_width",
    "sliding_window",
    "window_overlap",
    "label_type",
    "max_duration",
    "threshold",
    "median_filter",
    "min_speech",
    "min_silence",
    "transition_penalty",
)


def _data_files(parser: argparse.ArgumentParser, triples) -> Dict[str, str]:
    files: Dict[str, str] = {}
    for path, name, kind in triples:
        if name not in DATA_NAMES:
            parser.error(
                f"--data_path_and_name_and_type: unknown name {name!r} in {path},{name},{kind}; valid: {sorted(DATA_NAMES)}"
            )
        if kind not in DATA_NAMES[name]:
            parser.error(
                f"--data_path_and_name_and_type: {name} must have type {' or '.join(DATA_NAMES[name])}, got {kind!r}"
            )
        if name in files:
            parser.error(f"--data_path_and_name_and_type: {name} given twice")
        if not Path(path).is_file():
            parser.error(f"--data_path_and_name_and_type: no such file: {path}")
        files[name] = path
    if "speech" not in files:
        parser.error("--data_path_and_name_and_type: a 'speech' entry (wav.scp,speech,sound) is required")
    return files


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)

    files = _data_files(parser, args.data_path_and_name_and_type)
    if args.model_tag is None and (args.train_config is None or args.model_file is None):
        parser.error("give --model_tag, or both --train_config and --model_file")
    if args.model_tag is not None and (args.train_config or args.model_file):
        parser.error("--model_tag excludes --train_config and --model_file")
    if args.enrollment == "oracle" and "rttm" not in files:
        parser.error("--enrollment oracle needs the reference: --data_path_and_name_and_type <rttm>,rttm,rttm")
    if args.enrollment == "clips" and "enroll" not in files:
        parser.error("--enrollment clips needs --data_path_and_name_and_type <enroll.scp>,enroll,sound")
    if args.num_plots < 0:
        parser.error(f"--num_plots must be >= 0, got {args.num_plots}")

    from espnet2_tsdia.audio.user_input import AudioInputError
    from espnet2_tsdia.formats.errors import DataFormatError
    from espnet2_tsdia.inference.model_files import ModelLoadError
    from espnet2_tsdia.inference.pack import ModelArchiveError

    try:
        run(args, files)
    except (ModelLoadError, ModelArchiveError, DataFormatError, AudioInputError, ValueError, FileNotFoundError) as e:
        return cli.fail(parser.prog, e)
    return 0


def run(args: argparse.Namespace, files: Dict[str, str]) -> None:
    import numpy as np

    from espnet2_tsdia.audio.reader import WavScpReader, audio_info
    from espnet2_tsdia.audio.user_input import check_enrollment_clip, load_audio, parse_channel
    from espnet2_tsdia.formats.kaldi import c_sort_key, iter_lines, write_scp
    from espnet2_tsdia.formats.rttm import group_by_reco, read_rttm, write_rttm
    from espnet2_tsdia.inference.enrollment_sources import (
        UTT_SEP,
        OracleOptions,
        clips_for_recording,
        oracle_enrollments,
        read_enroll_scp,
    )
    from espnet2_tsdia.inference.model_files import read_train_config
    from espnet2_tsdia.inference.speech2tsdia import Speech2TSDiarization

    channel = parse_channel(args.channel)
    overrides = {k: getattr(args, k) for k in OVERRIDES}
    device = "cuda" if args.ngpu > 0 else "cpu"
    fconf = args.frontend_conf  # a mapping from --config, or a yaml file
    if isinstance(fconf, str):
        fconf = read_train_config(fconf, what="frontend config")
    if args.model_tag is not None:
        s2d = Speech2TSDiarization.from_pretrained(
            args.model_tag, cachedir=args.cachedir, device=device, overrides=overrides, frontend_conf=fconf
        )
    else:
        s2d = Speech2TSDiarization.from_files(
            args.train_config, args.model_file, device=device, overrides=overrides, frontend_conf=fconf
        )
    logger.info(
        "model: %s attention, %s; window %s frames (overlap %d), batch %d, scheme %s, %s",
        "softmax" if s2d.quadratic else "linear",
        "windows" if s2d.window else "one pass",
        s2d.window,
        s2d.overlap,
        s2d.knobs.batch_size,
        s2d.readout.scheme,
        s2d.postprocess,
    )

    reader = WavScpReader(files["speech"], fs=s2d.fs, channel=None if channel == "mean" else channel)
    recos = sorted(reader, key=c_sort_key)
    if args.key_file is not None:
        wanted = {line.split()[0] for _, line in iter_lines(args.key_file)}
        recos = [r for r in recos if r in wanted]
    ref = group_by_reco(read_rttm(files["rttm"])) if "rttm" in files else {}
    clips = read_enroll_scp(files["enroll"]) if "enroll" in files else {}
    oracle = OracleOptions(max_duration=args.enroll_max_duration, min_duration=args.enroll_min_duration)

    out = Path(args.output_dir)
    post_dir = out / "posteriors"
    post_dir.mkdir(parents=True, exist_ok=True)
    scp: Dict[str, str] = {}
    all_turns = []
    clip_cache: Dict[Tuple[str, object], np.ndarray] = {}
    plotted = 0
    for reco in recos:
        t0 = time.perf_counter()
        entry = reader.entry(reco)
        if not entry.is_pipe:
            _, sr, _ = audio_info(entry)
            if sr < s2d.fs:
                raise entry.error(f"sample rate {sr} Hz is below the model's {s2d.fs} Hz")
        speech = reader[reco]
        num_frames = s2d.num_frames(len(speech))
        regions, clip_wavs = {}, {}
        if args.enrollment == "oracle":
            turns = ref.get(reco, [])
            if not turns:
                logger.warning("%s: no reference turn; skipped", reco)
                continue
            regions, missing = oracle_enrollments(turns, num_frames, oracle, grid=s2d.grid)
            for spk in missing:
                logger.warning(
                    "%s: speaker %s never talks alone for %.2f s or more; no enrollment, not decoded",
                    reco,
                    spk,
                    oracle.min_duration,
                )
        else:
            for spk, path in clips_for_recording(clips, reco).items():
                key = (path, channel)
                if key not in clip_cache:
                    what = f"enrollment clip of {spk!r} ({path})"
                    x = load_audio(path, fs=s2d.fs, channel=channel, what=what)
                    clip_cache[key] = check_enrollment_clip(x, fs=s2d.fs, frame_samples=s2d.grid.shift, what=what)
                clip_wavs[spk] = clip_cache[key]
        if not regions and not clip_wavs:
            logger.warning("%s: no target speaker with an enrollment; skipped", reco)
            continue
        result = s2d(speech, reco=reco, enroll_clips=clip_wavs, enroll_regions=regions)
        for spk, post in result.posteriors.items():
            eid = f"{reco}{UTT_SEP}{spk}"
            path = post_dir / f"{eid}.npy"
            np.save(path, post.astype(np.float32))
            scp[eid] = str(path)
        all_turns.extend(result.turns)
        elapsed = time.perf_counter() - t0
        duration = len(speech) / s2d.fs
        logger.info(
            "%s: %d targets, %.1f s, %d frames, %d pass(es) per target, %.2f s (RTF %.3f)",
            reco,
            len(result.posteriors),
            duration,
            num_frames,
            len(s2d.plan(num_frames)),
            elapsed,
            elapsed / max(duration, 1e-9),
        )
        if plotted < args.num_plots:
            write_plots(out / "plots", reco, result, ref.get(reco, []), s2d)
            plotted += 1
    write_scp(out / "posteriors.scp", scp)
    write_rttm(out / "rttm", all_turns)
    logger.info(
        "wrote %s (%d turns) and %s (%d targets)", out / "rttm", len(all_turns), out / "posteriors.scp", len(scp)
    )


def write_plots(plot_dir: Path, reco: str, result, ref_turns, s2d) -> None:
    """``<reco>.timeline.png`` (reference vs hypothesis) and one posterior plot per target."""
    import numpy as np

    from espnet2_tsdia.inference.plots import plot_posteriors, plot_timeline
    from espnet2_tsdia.labels.activity import rasterize, speaker_order

    num_frames = next(iter(result.posteriors.values())).shape[0]
    end = num_frames * s2d.grid.shift_seconds
    if (ref_turns or result.turns) and end > 0:
        plot_timeline(ref_turns, result.turns, plot_dir / f"{reco}.timeline.png", reco=reco, start=0.0, end=end)
    ref_speakers = speaker_order(ref_turns)
    ref_activity = rasterize(ref_turns, ref_speakers, num_frames, grid=s2d.grid) if ref_turns else None
    names = CLASS_NAMES.get(s2d.readout.scheme)
    if names is not None and len(names) != s2d.readout.num_classes:
        names = None
    for spk, post in result.posteriors.items():
        if num_frames == 0:
            continue
        table = np.concatenate([post, result.target_prob[spk][:, None]], axis=1)
        class_names = (names or [f"class {c}" for c in range(post.shape[1])]) + ["P(target)"]
        ref_row = ref_activity[ref_speakers.index(spk)] if ref_activity is not None and spk in ref_speakers else None
        threshold = s2d.postprocess.threshold if s2d.postprocess.beam_width == 1 else None
        plot_posteriors(
            table,
            plot_dir / f"{reco}__{spk}.posteriors.png",
            frame_rate=1.0 / s2d.grid.shift_seconds,
            class_names=class_names,
            ref_activity=ref_row,
            threshold=threshold,
            title=f"{reco}: target {spk}",
        )


if __name__ == "__main__":
    sys.exit(main())
