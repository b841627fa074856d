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
        --enroll_source clips --output_dir exp/decode_clips

    # no enrollment: a clustering first pass finds the speakers, TS-DIA refines them
    python -m espnet2_tsdia.bin.tsdia_inference --model_tag exp/tsdia_train/model.zip \\
        --data_path_and_name_and_type data/test/wav.scp,speech,sound \\
        --enroll_source first_pass --iterations 1 --output_dir exp/decode_first_pass

Data (``--data_path_and_name_and_type path,name,type``, ESPnet's form):

- ``speech`` (type ``sound``): wav.scp; files or Kaldi pipes, any rate, resampled to the model's.
- ``rttm`` (type ``rttm``): the reference; needed by ``--enrollment oracle``; drawn in plots.
- ``enroll`` (type ``sound``): ``<speaker> <audio>`` (every recording) or
  ``<reco>__<speaker> <audio>`` (one recording), needed by ``--enrollment clips``.

Enrollment (``--enroll_source``, formerly ``--enrollment``): ``oracle`` (the reference's solo
regions), ``clips`` (audio per speaker) or ``first_pass`` (no enrollment: speech activity,
speaker embeddings of ``--spk_model`` or of the one packed with the model, clustering with
``--num_speakers`` or an estimate within ``--min_speakers``/``--max_speakers``; each found
speaker ``spk1``, ``spk2``, ... gets an enrollment region of the recording, then TS-DIA runs,
``--iterations`` more times with regions from its own output). ``first_pass`` also writes
``first_pass.rttm`` (the clustering alone), ``first_pass_regions`` (``<reco> <spk> <start s>
<end s> <kind> pass<i>``: the enrollment region of every speaker in every TS-DIA pass; kind
``clean`` or ``unclean`` for the first pass's, ``solo`` for one taken from a TS-DIA output;
``<reco> <spk> - - none`` for a speaker without one) and, with ``--iterations N``,
``rttm.pass0`` ... ``rttm.passN`` (``rttm`` is the last).

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

from espnet2_tsdia.firstpass.options import add_first_pass_arguments
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
    group.add_argument(
        "--enroll_source",
        "--enrollment",
        dest="enroll_source",
        choices=["oracle", "clips", "first_pass"],
        default="oracle",
        help="enrollment source (--enrollment is the former name)",
    )
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

    add_first_pass_arguments(parser)
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
    if args.enroll_source == "oracle" and "rttm" not in files:
        parser.error("--enroll_source oracle needs the reference: --data_path_and_name_and_type <rttm>,rttm,rttm")
    if args.enroll_source == "clips" and "enroll" not in files:
        parser.error("--enroll_source clips needs --data_path_and_name_and_type <enroll.scp>,enroll,sound")
    if args.num_plots < 0:
        parser.error(f"--num_plots must be >= 0, got {args.num_plots}")
    if args.iterations < 0:
        parser.error(f"--iterations must be >= 0, got {args.iterations}")

    from espnet2_tsdia.audio.user_input import AudioInputError
    from espnet2_tsdia.formats.errors import DataFormatError
    from espnet2_tsdia.inference.model_files import ModelLoadError
    from espnet2_tsdia.inference.pack import ModelArchiveError

    try:
        run(args, files)
    except (ModelLoadError, ModelArchiveError, DataFormatError, AudioInputError, ValueError, FileNotFoundError) as e:
        return cli.fail(parser.prog, e)
    return 0


def load_tsdia(args: argparse.Namespace):
    """The TS-DIA model of ``--model_tag`` or ``--train_config``/``--model_file``."""
    from espnet2_tsdia.inference.model_files import read_train_config
    from espnet2_tsdia.inference.speech2tsdia import Speech2TSDiarization

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
    return s2d


def load_first_pass(args: argparse.Namespace, s2d):
    """The first pass of ``--enroll_source first_pass`` (None for the other sources)."""
    if args.enroll_source != "first_pass":
        return None
    from espnet2_tsdia.firstpass.options import first_pass_options
    from espnet2_tsdia.inference.first_pass import make_first_pass, speaker_model_spec
    from espnet2_tsdia.inference.spk_model import load_speaker_embedder

    embedder = load_speaker_embedder(
        speaker_model_spec(s2d, args.spk_model), cachedir=args.cachedir, device=str(s2d.device)
    )
    return make_first_pass(embedder, s2d, first_pass_options(args))


def recordings(args: argparse.Namespace, reader) -> List[str]:
    """The recordings to decode: every key of wav.scp, or those of ``--key_file``."""
    from espnet2_tsdia.formats.kaldi import c_sort_key, iter_lines

    recos = sorted(reader, key=c_sort_key)
    if args.key_file is not None:
        wanted = {line.split()[0] for _, line in iter_lines(args.key_file)}
        recos = [r for r in recos if r in wanted]
    return recos


def read_recording(reader, reco: str, fs: int):
    """The waveform of ``reco`` at ``fs``; a file at a lower rate is refused."""
    from espnet2_tsdia.audio.reader import audio_info

    entry = reader.entry(reco)
    if not entry.is_pipe:
        _, sr, _ = audio_info(entry)
        if sr < fs:
            raise entry.error(f"sample rate {sr} Hz is below the model's {fs} Hz")
    return reader[reco]


class ClipCache:
    """Enrollment clips of ``--enroll_source clips``, each file read and checked once."""

    def __init__(self, clips: Dict[str, str], channel, s2d):
        self.clips, self.channel, self.s2d = clips, channel, s2d
        self.cache: Dict[str, object] = {}

    def for_recording(self, reco: str) -> Dict[str, object]:
        from espnet2_tsdia.audio.user_input import check_enrollment_clip, load_audio
        from espnet2_tsdia.inference.enrollment_sources import clips_for_recording

        out = {}
        for spk, path in clips_for_recording(self.clips, reco).items():
            if path not in self.cache:
                what = f"enrollment clip of {spk!r} ({path})"
                x = load_audio(path, fs=self.s2d.fs, channel=self.channel, what=what)
                self.cache[path] = check_enrollment_clip(
                    x, fs=self.s2d.fs, frame_samples=self.s2d.grid.shift, what=what
                )
            out[spk] = self.cache[path]
        return out


def oracle_regions(reco: str, turns, num_frames: int, options, s2d) -> Dict[str, Tuple[int, int]]:
    """Oracle enrollment regions of one recording; speakers without a solo region are named."""
    from espnet2_tsdia.inference.enrollment_sources import oracle_enrollments

    if not turns:
        logger.warning("%s: no reference turn; skipped", reco)
        return {}
    regions, missing = oracle_enrollments(turns, num_frames, options, grid=s2d.grid)
    for spk in missing:
        logger.warning(
            "%s: speaker %s never talks alone for %.2f s or more; no enrollment, not decoded",
            reco,
            spk,
            options.min_duration,
        )
    return regions


class Outputs:
    """What ``tsdia_inference`` writes: posteriors, RTTM(s), first-pass files, plots."""

    def __init__(self, out: Path, *, iterations: Optional[int]):
        self.out = out
        self.post_dir = out / "posteriors"
        self.post_dir.mkdir(parents=True, exist_ok=True)
        self.iterations = iterations  # None: no first pass
        self.scp: Dict[str, str] = {}
        self.turns: List = []
        self.first_pass_turns: List = []
        self.pass_turns: List[List] = [[] for _ in range((iterations or 0) + 1)]
        self.region_lines: List[str] = []

    def add(self, reco: str, result) -> None:
        import numpy as np

        from espnet2_tsdia.inference.enrollment_sources import UTT_SEP

        for spk, post in result.posteriors.items():
            eid = f"{reco}{UTT_SEP}{spk}"
            path = self.post_dir / f"{eid}.npy"
            np.save(path, post.astype(np.float32))
            self.scp[eid] = str(path)
        self.turns.extend(result.turns)

    def add_first_pass(self, reco: str, refined, s2d) -> None:
        fp = refined.first_pass
        self.first_pass_turns.extend(fp.turns)
        for i, res in enumerate(refined.passes):
            self.pass_turns[i].extend(res.turns)
        shift = s2d.grid.shift_seconds
        for spk in fp.skipped:
            self.region_lines.append(f"{reco} {spk} - - none")
        for i, regions in enumerate(refined.regions):
            for spk, (a, b) in regions.items():
                clean = "solo" if i > 0 else ("clean" if fp.regions[spk].clean else "unclean")
                self.region_lines.append(f"{reco} {spk} {a * shift:.2f} {b * shift:.2f} {clean} pass{i}")

    def write(self) -> None:
        from espnet2_tsdia.formats.kaldi import write_scp
        from espnet2_tsdia.formats.rttm import write_rttm

        write_scp(self.out / "posteriors.scp", self.scp)
        write_rttm(self.out / "rttm", self.turns)
        if self.iterations is not None:
            write_rttm(self.out / "first_pass.rttm", self.first_pass_turns)
            (self.out / "first_pass_regions").write_text("".join(ln + "\n" for ln in self.region_lines))
            if self.iterations > 0:
                for i, turns in enumerate(self.pass_turns):
                    write_rttm(self.out / f"rttm.pass{i}", turns)
        logger.info(
            "wrote %s (%d turns) and %s (%d targets)",
            self.out / "rttm",
            len(self.turns),
            self.out / "posteriors.scp",
            len(self.scp),
        )


def run(args: argparse.Namespace, files: Dict[str, str]) -> None:
    """Decode every recording: model, enrollment source, passes, outputs (named steps above)."""
    from espnet2_tsdia.audio.reader import WavScpReader
    from espnet2_tsdia.audio.user_input import parse_channel
    from espnet2_tsdia.formats.rttm import group_by_reco, read_rttm
    from espnet2_tsdia.inference.enrollment_sources import OracleOptions, read_enroll_scp
    from espnet2_tsdia.inference.first_pass import diarize_without_enrollment

    channel = parse_channel(args.channel)
    s2d = load_tsdia(args)
    first_pass = load_first_pass(args, s2d)
    reader = WavScpReader(files["speech"], fs=s2d.fs, channel=None if channel == "mean" else channel)
    ref = group_by_reco(read_rttm(files["rttm"])) if "rttm" in files else {}
    clips = ClipCache(read_enroll_scp(files["enroll"]), channel, s2d) if "enroll" in files else None
    oracle = OracleOptions(max_duration=args.enroll_max_duration, min_duration=args.enroll_min_duration)
    outputs = Outputs(Path(args.output_dir), iterations=args.iterations if first_pass is not None else None)
    plotted = 0
    for reco in recordings(args, reader):
        t0 = time.perf_counter()
        speech = read_recording(reader, reco, s2d.fs)
        num_frames = s2d.num_frames(len(speech))
        if first_pass is not None:
            refined = diarize_without_enrollment(s2d, first_pass, speech, reco=reco, iterations=args.iterations)
            outputs.add_first_pass(reco, refined, s2d)
            result = refined.final
            if not result.posteriors:
                logger.warning("%s: the first pass found no speaker with an enrollment region", reco)
        else:
            regions = oracle_regions(reco, ref.get(reco, []), num_frames, oracle, s2d) if clips is None else {}
            clip_wavs = clips.for_recording(reco) if clips is not None else {}
            if not regions and not clip_wavs:
                logger.warning("%s: no target speaker with an enrollment; skipped", reco)
                continue
            result = s2d(speech, reco=reco, enroll_clips=clip_wavs, enroll_regions=regions)
        outputs.add(reco, result)
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
        if plotted < args.num_plots and result.posteriors:
            write_plots(Path(args.output_dir) / "plots", reco, result, ref.get(reco, []), s2d)
            plotted += 1
    outputs.write()


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
