#!/usr/bin/env python3
"""Make the target-speaker examples of a data dir: labels, enrollment specs, chunk lists.

Usage:
    python -m espnet2_tsdia.bin.make_tsdia_examples data/train data/train/tsdia \\
        --scheme powerset --chunk_frames 500 --chunk_hop 250 \\
        --enroll_min 2.0 --enroll_max 5.0 --min_enroll 0.5

    Simulated mixtures (no wav.scp; audio rendered on the fly from the simulator's spec):
    python -m espnet2_tsdia.bin.make_tsdia_examples data/sim_train data/sim_train/tsdia \\
        --mixture_scp data/sim_train/mixture.scp

Writes, next to the data dir (which stays untouched, as does the audio): ``examples``
(``<reco>__<spk>``), ``chunks`` (``<reco>__<spk>__<start:07d>``), their ESPnet shape files,
``labels.ark/.scp`` (int8), ``enroll`` (enrollment specs), ``reco2num_samples``, ``tsdia.json``
and ``skipped.txt`` (every speaker that got no example, and why). Feed the lists to ESPnet with
the ``tsdia_*`` data types (``espnet2_tsdia.examples.datatypes``).

Exit status 1 with a message naming the file and line on missing audio or malformed files; with
``--on_unusable error`` also when a speaker has no single-speaker region of ``--min_enroll`` s.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    from espnet2_tsdia.labels.schemes import scheme_names

    parser = cli.get_parser(__doc__, prog="make_tsdia_examples")
    parser.add_argument("data_dir", help="data dir with wav.scp (or --mixture_scp) and rttm (or segments + utt2spk)")
    parser.add_argument("out_dir", help="example dir to write, e.g. <data_dir>/tsdia")
    g = parser.add_argument_group("labels")
    g.add_argument("--scheme", default="powerset", choices=scheme_names(), help="label scheme")
    g.add_argument("--max_speakers", type=int, default=4, help="columns of multi-label schemes (speaker_id)")
    g.add_argument("--fs", type=int, default=8000, help="sample rate of the features")
    g.add_argument("--hop_length", type=int, default=80, help="STFT hop (samples)")
    g.add_argument("--subsampling", type=int, default=10, help="STFT frames per label frame")
    g = parser.add_argument_group("chunks")
    g.add_argument("--chunk_frames", type=int, default=500, help="training chunk length in frames")
    g.add_argument("--chunk_hop", type=int, default=250, help="frames between chunk starts")
    g.add_argument(
        "--min_target_frames", type=int, default=0, help="drop chunks where the target talks in fewer frames"
    )
    g = parser.add_argument_group("enrollment")
    g.add_argument("--enroll_min", type=float, default=2.0, help="shortest enrollment drawn (s)")
    g.add_argument("--enroll_max", type=float, default=5.0, help="longest enrollment drawn (s)")
    g.add_argument("--min_enroll", type=float, default=0.5, help="shortest usable single-speaker region (s)")
    g.add_argument("--on_unusable", default="skip", choices=["skip", "error"], help="speaker without a usable region")
    g.add_argument("--no_cross_recording", action="store_true", help="enroll only from the example's own recording")
    g.add_argument(
        "--other_recording_prob", type=float, default=0.5, help="P(enrollment from another recording of the speaker)"
    )
    g.add_argument("--enroll_seed", type=int, default=0, help="seed of the enrollment draws")
    g = parser.add_argument_group("audio")
    g.add_argument(
        "--mixture_scp", default=None, help="simulator mixture spec scp to read audio from instead of wav.scp"
    )
    g.add_argument("--channel", type=int, default=0, help="channel of multi-channel audio (-1: mean of all)")
    g.add_argument(
        "--num_samples_from", default="audio", choices=["audio", "reco2dur"], help="where recording lengths come from"
    )
    parser.add_argument("--targets", default=None, help="file of '<reco> <spk>' lines: only these examples")
    cli.add_log_level(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)

    from espnet2_tsdia.examples.enrollment import EnrollOptions, NoEnrollmentError
    from espnet2_tsdia.examples.example_dir import ExampleDirOptions, make_example_dir, read_targets
    from espnet2_tsdia.formats.errors import DataFormatError
    from espnet2_tsdia.frontend.frames import FrameGrid
    from espnet2_tsdia.labels.convert import LabelOptions

    try:
        grid = FrameGrid(fs=args.fs, hop_length=args.hop_length, subsampling=args.subsampling)
        options = ExampleDirOptions(
            labels=LabelOptions(scheme=args.scheme, max_speakers=args.max_speakers, grid=grid),
            enroll=EnrollOptions(
                min_seconds=args.enroll_min,
                max_seconds=args.enroll_max,
                min_enroll=args.min_enroll,
                on_unusable=args.on_unusable,
                cross_recording=not args.no_cross_recording,
                other_recording_prob=args.other_recording_prob,
                seed=args.enroll_seed,
                grid=grid,
            ),
            chunk_frames=args.chunk_frames,
            chunk_hop=args.chunk_hop,
            min_target_frames=args.min_target_frames,
            channel=None if args.channel < 0 else args.channel,
            num_samples_from=args.num_samples_from,
        )
        targets = read_targets(args.targets) if args.targets else None
        report = make_example_dir(args.data_dir, args.out_dir, options, mixture_scp=args.mixture_scp, targets=targets)
    except (DataFormatError, NoEnrollmentError, FileNotFoundError, ValueError) as e:
        return cli.fail(parser.prog, e)
    logger.info(
        "%d examples, %d chunks, %d speakers skipped -> %s",
        report.examples,
        report.chunks,
        len(report.skipped),
        args.out_dir,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
