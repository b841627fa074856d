#!/usr/bin/env python3
"""ESPnet's stock EEND (SA-EEND, EEND-EDA) as a baseline: its inputs from our data, its output as RTTM.

Usage:
    # training inputs (stored features of the example dir, frame-level labels from the RTTM)
    python -m espnet2_tsdia.bin.eend_baseline prepare exp/eend/data/train \\
        --rttm dump/train/rttm --feats_scp dump/train/tsdia/feats.scp --num_spk 3
    # EEND-EDA: labels with each recording's own speaker count, one split per count
    python -m espnet2_tsdia.bin.eend_baseline prepare exp/eend/data/train \\
        --rttm dump/train/rttm --feats_scp dump/train/tsdia/feats.scp --split_by_num_spk
    # a set without stored features: extracted from wav.scp with the standard frontend
    python -m espnet2_tsdia.bin.eend_baseline prepare exp/eend/data/dev \\
        --rttm dump/dev/rttm --wav_scp dump/dev/wav.scp --feats_conf conf/fbank.yaml

    # train with ESPnet itself: python -m espnet2.bin.diar_train (local/eend_baseline.sh)

    # decode a test set -> hyp.rttm, posteriors, speakers per recording
    python -m espnet2_tsdia.bin.eend_baseline decode exp/eend_sa/decode/test \\
        --train_config exp/eend_sa/config.yaml --model_file exp/eend_sa/valid.loss.ave.pth \\
        --wav_scp dump/test/wav.scp --feats_conf conf/fbank.yaml --decode_config conf/decode.yaml
    # EEND-EDA with the reference speaker count
    python -m espnet2_tsdia.bin.eend_baseline decode exp/eend_eda/decode_oracle/test ... \\
        --num_spk_mode oracle --reco2num_spk dump/test/reco2num_spk

    Then score: python -m espnet2_tsdia.bin.tsdia_score --ref dump/test/rttm --hyp .../hyp.rttm ...

``prepare`` writes feats.scp, labels.ark/.scp, speech_shape, spk_labels_shape, reco2num_spk
(and split/ with --split_by_num_spk); ``decode`` writes hyp.rttm, posteriors.ark/.scp and
reco2num_spk (outputs per recording). See espnet2_tsdia.baselines.eend_data / eend_decode.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)

#: decode.yaml keys the EEND post-processing uses; the others configure TS-DIA only.
POSTPROCESS_KEYS = ("threshold", "median_filter", "min_silence", "min_speech")


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="eend_baseline")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=cli.ArgumentParser)

    p = sub.add_parser("prepare", help="features and frame-level labels of one set for diar_train")
    p.add_argument("out_dir", help="output dir")
    p.add_argument("--rttm", required=True, help="reference RTTM of the set")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--feats_scp", help="stored features (example dir's feats.scp); its recordings form the set")
    src.add_argument("--wav_scp", help="recordings whose features are extracted here (with --feats_conf)")
    p.add_argument("--feats_conf", default=None, help="yaml of TSDiaFbankFrontend arguments (conf/fbank.yaml)")
    p.add_argument(
        "--num_spk", type=int, default=None, help="label columns (SA-EEND outputs); default: each recording's count"
    )
    p.add_argument("--split_by_num_spk", action="store_true", help="also one split per speaker count (EEND-EDA)")

    cli.add_log_level(p)

    d = sub.add_parser("decode", help="decode recordings with a trained stock EEND model -> RTTM")
    d.add_argument("out_dir", help="output dir")
    d.add_argument("--train_config", required=True, help="config.yaml of the diar_train run")
    d.add_argument("--model_file", required=True, help="model .pth of the diar_train run")
    d.add_argument("--wav_scp", required=True, help="recordings to decode")
    d.add_argument("--feats_conf", default=None, help="yaml of TSDiaFbankFrontend arguments (as in training)")
    d.add_argument("--decode_config", default=None, help="yaml with threshold, median_filter, min_silence, min_speech")
    d.add_argument(
        "--num_spk_mode",
        default="model",
        choices=["model", "estimated", "oracle"],
        help="model: SA-EEND's fixed outputs; estimated / oracle: EEND-EDA's own count / the reference count",
    )
    d.add_argument("--reco2num_spk", default=None, help="reference speakers per recording (for --num_spk_mode oracle)")
    d.add_argument("--key_file", default=None, help="decode only the recordings listed (one id per line)")
    for key, typ in (("threshold", float), ("median_filter", int), ("min_silence", float), ("min_speech", float)):
        d.add_argument(f"--{key}", type=typ, default=None, help="overrides --decode_config")
    cli.add_log_level(d)
    return parser


def _load_yaml(path: Optional[str], what: str) -> dict:
    import yaml

    if path is None:
        return {}
    if not Path(path).is_file():
        raise FileNotFoundError(f"{what} {path}: no such file")
    conf = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(conf, dict):
        raise ValueError(f"{what} {path}: expected a mapping of options, got {type(conf).__name__}")
    return conf


def _prepare(args) -> None:
    from espnet2_tsdia.baselines.eend_data import prepare_set

    report = prepare_set(
        args.out_dir,
        rttm=args.rttm,
        feats_scp=args.feats_scp,
        wav_scp=args.wav_scp,
        frontend_conf=_load_yaml(args.feats_conf, "--feats_conf"),
        num_columns=args.num_spk,
        split_by_num_spk=args.split_by_num_spk,
    )
    logger.info(
        "%s: %d recordings, %d frames, speakers per recording %s, label columns %s",
        args.out_dir,
        report.recordings,
        report.frames,
        report.speaker_counts,
        report.num_columns if report.num_columns is not None else "per recording",
    )


def _decode(args) -> None:
    from espnet2_tsdia.baselines.eend_decode import EendPostprocess, decode_set
    from espnet2_tsdia.formats.kaldi import read_list

    conf = _load_yaml(args.decode_config, "--decode_config")
    ignored = sorted(k for k in conf if k not in POSTPROCESS_KEYS)
    if ignored:
        logger.info("%s: keys used by TS-DIA only, not by the EEND post-processing: %s", args.decode_config, ignored)
    post = {k: conf[k] for k in POSTPROCESS_KEYS if k in conf}
    post.update({k: getattr(args, k) for k in POSTPROCESS_KEYS if getattr(args, k) is not None})
    report = decode_set(
        args.out_dir,
        train_config=args.train_config,
        model_file=args.model_file,
        wav_scp=args.wav_scp,
        num_spk_mode=args.num_spk_mode,
        reco2num_spk=args.reco2num_spk,
        frontend_conf=_load_yaml(args.feats_conf, "--feats_conf"),
        options=EendPostprocess(**post),
        keys=read_list(args.key_file) if args.key_file else None,
    )
    hist = {}
    for n in report.speaker_counts.values():
        hist[n] = hist.get(n, 0) + 1
    logger.info(
        "%s: %d recordings, %d turns, outputs per recording %s",
        Path(args.out_dir) / "hyp.rttm",
        report.recordings,
        report.turns,
        dict(sorted(hist.items())),
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    from espnet2_tsdia.formats.errors import DataFormatError

    try:
        _prepare(args) if args.command == "prepare" else _decode(args)
    except (DataFormatError, FileNotFoundError, ValueError, TypeError) as e:
        return cli.fail(parser.prog, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
