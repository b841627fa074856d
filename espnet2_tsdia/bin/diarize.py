#!/usr/bin/env python3
"""Who speaks when: diarize one recording, with or without voice samples of the speakers.

Usage:
    # no voice sample: a first pass finds the speakers (spk1, spk2, ...), TS-DIA refines them
    python -m espnet2_tsdia.bin.diarize meeting.wav -o meeting.rttm --model model.zip
    python -m espnet2_tsdia.bin.diarize meeting.wav -o meeting.rttm --model model.zip --num_speakers 3

    # a voice sample per speaker
    python -m espnet2_tsdia.bin.diarize --model model.zip \\
        --enroll alice=alice.wav --enroll bob=bob.wav meeting.wav -o meeting.rttm --plot meeting.png

    --model     a zip written by ``python -m espnet2_tsdia.bin.pack_model`` (or a model-zoo tag)
    --enroll    NAME=AUDIO, once per speaker: a few seconds of that speaker alone (0.5 s or more);
                without it, the first pass: speech activity, speaker embeddings (the speaker
                model packed with the TS-DIA model, or --spk_model), clustering with
                --num_speakers N or an estimate within --min_speakers/--max_speakers, and an
                enrollment region of the recording for every speaker found
    -o          the RTTM to write (one line per turn; speaker field = NAME, or spk1, spk2, ...)
    --plot      optional picture (PNG): who talks when, and each speaker's probability
    --first_pass_rttm  without --enroll: also write the first pass's own RTTM

Decode options: a model packed with ``--inference_config`` carries the options chosen for it
(threshold, median filter, minimum speech and silence, the first pass's clustering): they are
this tool's defaults; an option given on the command line wins.

Audio: any format libsndfile reads, at any sample rate at or above the model's (8 kHz for the
standard model; higher rates are resampled, lower ones refused). A file with several channels
needs ``--channel N`` (0-based) or ``--channel mean``; mono files ignore ``--channel``. Recordings
of a minute or more show a progress bar over the model's passes (targets x windows, in batches of
``--batch_size``); ``--quiet`` hides it.

Every problem with the input (missing or unreadable file, a rate below the model's, several
channels without --channel, an empty or silent enrollment clip, a recording shorter than one
frame, a corrupt or unsafe model zip)
ends with one line ``diarize: error: ...`` and exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from espnet2_tsdia.firstpass.options import add_first_pass_arguments
from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)

#: recordings at least this long (seconds) get a progress bar
PROGRESS_MIN_SECONDS = 60.0


class UsageError(Exception):
    """A problem with the command line or its files: printed as one line."""


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="diarize")
    parser.add_argument("audio", help="the recording to diarize")
    parser.add_argument("--model", required=True, help="packed model (zip from pack_model) or a model-zoo tag")
    parser.add_argument(
        "--enroll",
        action="append",
        default=[],
        metavar="NAME=AUDIO",
        help="a speaker's name and a clip of that speaker alone; repeat for every speaker (none: first pass)",
    )
    parser.add_argument("-o", "--output", required=True, help="RTTM file to write")
    parser.add_argument("--plot", default=None, help="PNG timeline of the result")
    parser.add_argument("--channel", default=None, help="for multi-channel files: a 0-based channel index, or 'mean'")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument("--cachedir", default=None, help="where the model is unpacked (default ~/.cache/espnet2_tsdia)")
    parser.add_argument("--threshold", type=float, default=None, help="decision threshold (default: the model's)")
    parser.add_argument("--min_speech", type=float, default=None, help="drop turns shorter than this (s)")
    parser.add_argument("--min_silence", type=float, default=None, help="bridge pauses shorter than this (s)")
    parser.add_argument("--batch_size", type=int, default=None, help="items per forward pass (memory)")
    parser.add_argument("--first_pass_rttm", default=None, help="without --enroll: the first pass's RTTM too")
    add_first_pass_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar, warnings only (--log_level WARNING)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    cli.add_log_level(parser)
    return parser


def parse_enroll(values: List[str]) -> Dict[str, str]:
    """``NAME=AUDIO`` strings -> ordered dict; raises UsageError on a malformed or repeated name."""
    out: Dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        name = name.strip()
        if not sep or not name or not path:
            raise UsageError(f"--enroll expects NAME=AUDIO (e.g. alice=alice.wav), got {value!r}")
        if any(c.isspace() for c in name):
            raise UsageError(f"--enroll: speaker names cannot contain spaces (RTTM fields), got {name!r}")
        if name in out:
            raise UsageError(f"--enroll: speaker {name!r} given twice")
        out[name] = path
    return out


def _probe(path: str, *, what: str, channel) -> None:
    """Fail fast, before the model loads: the file exists, libsndfile reads it, channels resolved."""
    import soundfile

    from espnet2_tsdia.audio.user_input import AudioInputError

    p = Path(path)
    if not p.is_file():
        raise AudioInputError(f"{what}: no such file")
    try:
        info = soundfile.info(str(p))
    except Exception as e:
        raise AudioInputError(f"{what}: not a readable audio file ({' '.join(str(e).split())})") from None
    if info.channels > 1 and channel is None:
        raise AudioInputError(
            f"{what} has {info.channels} channels; choose one with --channel 0..{info.channels - 1}, "
            "or --channel mean to average them"
        )
    if info.frames == 0:
        raise AudioInputError(f"{what}: the file holds no audio (0 samples)")


def check_inputs(args: argparse.Namespace):
    """Command line and files, before the model loads: (speaker -> clip path, channel, output)."""
    from espnet2_tsdia.audio.user_input import parse_channel

    enroll = parse_enroll(args.enroll)
    channel = parse_channel(args.channel)
    _probe(args.audio, what=args.audio, channel=channel)
    for name, path in enroll.items():
        _probe(path, what=f"enrollment clip {path} of {name!r}", channel=channel)
    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"-o {out} is a folder; give the RTTM file to write")
    if enroll and (args.num_speakers is not None or args.spk_model is not None or args.first_pass_rttm):
        raise UsageError("--num_speakers, --spk_model and --first_pass_rttm are for diarization without --enroll")
    if not enroll:
        from espnet2_tsdia.firstpass.options import first_pass_options

        first_pass_options(args)  # bad clustering options fail here, before the model loads
    return enroll, channel, out


def packed_defaults(
    parser: argparse.ArgumentParser, argv: Optional[List[str]], args: argparse.Namespace, files: Dict[str, str]
):
    """The command line parsed again with the packed decode options of the unpacked model
    ``files`` as defaults, and the packed post-processing values this tool has no option for
    (``median_filter``, ...).

    Returns:
        (args, extra overrides for :meth:`Speech2TSDiarization.from_unpacked`).

    Raises:
        UsageError: a packed key that is neither an option of this tool nor a decode option.
    """
    from espnet2_tsdia.inference.model_files import read_inference_config
    from espnet2_tsdia.inference.speech2tsdia import OPTION_NAMES

    packed = read_inference_config(files)
    if not packed:
        return args, {}
    dests = set(vars(args))  # every option of this tool
    unknown = sorted(k for k in packed if k not in dests and k not in OPTION_NAMES)
    if unknown:
        raise UsageError(f"{args.model}: the packed inference config has keys diarize does not know: {unknown}")
    logger.info("%s: packed decode options %s", args.model, packed)
    parser.set_defaults(**{k: v for k, v in packed.items() if k in dests})
    extra = {k: v for k, v in packed.items() if k not in dests}
    return parser.parse_args(argv), extra


def load_model(args: argparse.Namespace, files: Dict[str, str], extra: Dict[str, Any]):
    """The TS-DIA model of the unpacked (and so checked) archive ``files``."""
    from espnet2_tsdia.inference.speech2tsdia import Speech2TSDiarization

    overrides = dict(extra)
    overrides.update(
        threshold=args.threshold, min_speech=args.min_speech, min_silence=args.min_silence, batch_size=args.batch_size
    )
    logger.info("loading %s", args.model)
    return Speech2TSDiarization.from_unpacked(args.model, files, device=args.device, overrides=overrides)


def progress_bar(args: argparse.Namespace, reco: str, duration: float):
    """(bar or None, progress callback or None): a bar for recordings of a minute or more."""
    if args.quiet or duration < PROGRESS_MIN_SECONDS:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="pass", desc=f"{reco} ({duration / 60:.1f} min)", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def run(args: argparse.Namespace, inputs, files: Dict[str, str], extra: Dict[str, Any]) -> int:
    """Diarize with the checked ``inputs`` of :func:`check_inputs` and the unpacked model ``files``."""
    from espnet2_tsdia.audio.user_input import AudioInputError, check_enrollment_clip, load_audio

    enroll, channel, out = inputs
    s2d = load_model(args, files, extra)
    first_pass = None
    if not enroll:
        from espnet2_tsdia.firstpass.options import first_pass_options
        from espnet2_tsdia.inference.first_pass import make_first_pass, speaker_model_spec
        from espnet2_tsdia.inference.spk_model import load_speaker_embedder

        embedder = load_speaker_embedder(
            speaker_model_spec(s2d, args.spk_model), cachedir=args.cachedir, device=args.device
        )
        first_pass = make_first_pass(embedder, s2d, first_pass_options(args))

    speech = load_audio(args.audio, fs=s2d.fs, channel=channel)
    clips = {}
    for name, path in enroll.items():
        what = f"enrollment clip {path} of {name!r}"
        x = load_audio(path, fs=s2d.fs, channel=channel, what=what)
        clips[name] = check_enrollment_clip(x, fs=s2d.fs, frame_samples=s2d.grid.shift, what=what)
    reco = Path(args.audio).stem.replace(" ", "_") or "recording"
    duration = len(speech) / s2d.fs
    if s2d.num_frames(len(speech)) == 0:
        raise AudioInputError(
            f"{args.audio}: the recording lasts {duration:.3f} s, shorter than one frame ({s2d.grid.shift_seconds:g} s)"
        )

    bar, progress = progress_bar(args, reco, duration)
    try:
        if first_pass is None:
            result = s2d(speech, reco=reco, enroll_clips=clips, progress=progress)
        else:
            from espnet2_tsdia.inference.first_pass import diarize_without_enrollment

            refined = diarize_without_enrollment(
                s2d, first_pass, speech, reco=reco, iterations=args.iterations, progress=progress
            )
            result = refined.final
    finally:
        if bar is not None:
            bar.close()

    from espnet2_tsdia.formats.rttm import write_rttm

    out.parent.mkdir(parents=True, exist_ok=True)
    write_rttm(out, result.turns)
    if first_pass is not None:
        fp = refined.first_pass
        logger.info(
            "%s: the first pass found %d speaker(s)%s",
            reco,
            len(fp.speakers),
            f"; without an enrollment region (not decoded): {', '.join(fp.skipped)}" if fp.skipped else "",
        )
        if args.first_pass_rttm:
            Path(args.first_pass_rttm).parent.mkdir(parents=True, exist_ok=True)
            write_rttm(args.first_pass_rttm, fp.turns)
    talk = {spk: float(a.sum()) * s2d.grid.shift_seconds for spk, a in result.activity.items()}
    summary = ", ".join(f"{spk} {sec:.1f} s" for spk, sec in talk.items())
    logger.info("%s: %d turns over %.1f s (%s) -> %s", reco, len(result.turns), duration, summary, out)
    if not result.turns:
        logger.warning("no speaker was found talking; %s has no SPEAKER line", out)
    if args.plot is not None and result.posteriors:
        write_picture(Path(args.plot), reco, result, s2d, duration)
    return 0


def write_picture(png: Path, reco: str, result, s2d, duration: float) -> None:
    """Who talks when (a row per enrolled speaker) above each speaker's probability of talking."""
    from espnet2_tsdia.inference.result_picture import plot_result

    threshold = s2d.postprocess.threshold if s2d.postprocess.beam_width == 1 else None
    plot_result(
        result.turns,
        png,
        reco=reco,
        duration=max(duration, 1.0 / s2d.grid.fs),
        speakers=list(result.posteriors),
        probabilities=result.target_prob,
        frame_rate=1.0 / s2d.grid.shift_seconds,
        threshold=threshold,
    )
    logger.info("picture: %s", png)


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging("WARNING" if args.quiet else args.log_level, fmt="diarize: %(message)s")
    from espnet2_tsdia.audio.user_input import AudioInputError
    from espnet2_tsdia.formats.errors import DataFormatError
    from espnet2_tsdia.inference.model_files import ModelLoadError
    from espnet2_tsdia.inference.pack import ModelArchiveError, unpack_model

    expected = (UsageError, AudioInputError, ModelArchiveError, ModelLoadError, DataFormatError, ValueError, OSError)
    try:
        # the command line and the files first (with the options as given: a packed first-pass
        # option is no --enroll conflict), then the archive, unpacked and checked once
        inputs = check_inputs(args)
        files = unpack_model(args.model, cachedir=args.cachedir)
        args, extra = packed_defaults(parser, argv, args, files)
        return run(args, inputs, files, extra)
    except KeyboardInterrupt:
        print("diarize: interrupted", file=sys.stderr)
        return 130
    except expected as e:
        if args.debug:
            raise
        return cli.fail(parser.prog, e)


if __name__ == "__main__":
    sys.exit(main())
