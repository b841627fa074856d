#!/usr/bin/env python3
"""Pack a trained TS-DIA model into an ESPnet model-zoo zip (config, model, statistics, results).

Usage:
    python -m espnet2_tsdia.bin.pack_model \\
        --train_config exp/tsdia_train/config.yaml \\
        --model_file exp/tsdia_train/valid.loss.ave.pth \\
        --results_md exp/tsdia_train/decode_test/score/RESULTS.md \\
        --outpath exp/tsdia_train/model.zip

    A model trained on stored features (``frontend: null``) needs the feature settings at
    inference: add ``--frontend_conf conf/fbank.yaml`` (written into the packed config).

    ``--spk_model exp/spk_train`` packs a speaker-embedding model (a ``spk_train`` dir) with it,
    so that ``diarize meeting.wav -o out.rttm --model model.zip`` works without enrollment.
    ``--inference_config exp/tsdia_train/decode_search/best.yaml`` packs the decode options
    (post-processing, first pass) that ``diarize`` then uses unless told otherwise.

    The zip holds meta.yaml, exp/<name>/config.yaml (its normalize_conf.stats_file pointing at
    the packed exp/<name>/feats_stats.npz), exp/<name>/model.pth, RESULTS.md and any --option
    files. Load it with ``Speech2TSDiarization.from_pretrained("model.zip")``,
    ``tsdia_inference --model_tag model.zip`` or ``diarize --model model.zip``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="pack_model")
    parser.add_argument("--train_config", required=True, help="config.yaml of the training")
    parser.add_argument("--model_file", required=True, help="model state dict to ship (e.g. valid.loss.ave.pth)")
    parser.add_argument("--outpath", required=True, help="the zip to write")
    parser.add_argument(
        "--stats_file", default=None, help="feature statistics (default: the config's normalize_conf.stats_file)"
    )
    parser.add_argument("--results_md", default=None, help="RESULTS.md to include")
    parser.add_argument("--option", action="append", default=[], help="another file to include (repeatable)")
    parser.add_argument(
        "--frontend_conf",
        default=None,
        help="models trained on stored features: yaml of the TSDiaFbankFrontend arguments (conf/fbank.yaml), packed into the config",
    )
    parser.add_argument(
        "--spk_model", default=None, help="speaker-embedding training dir (spk_train) for the first pass, packed too"
    )
    parser.add_argument(
        "--inference_config",
        default=None,
        help="decode yaml (tsdia_inference option names) packed as the model's default decode options",
    )
    parser.add_argument(
        "--name", default=None, help="folder name under exp/ in the zip (default: the model file's folder)"
    )
    cli.add_log_level(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)

    from espnet2_tsdia.inference.model_files import ModelLoadError
    from espnet2_tsdia.inference.pack import ModelArchiveError, pack_model

    try:
        pack_model(
            train_config=args.train_config,
            model_file=args.model_file,
            outpath=args.outpath,
            stats_file=args.stats_file,
            results_md=args.results_md,
            extra_files=args.option,
            name=args.name,
            frontend_conf=args.frontend_conf,
            spk_model=args.spk_model,
            inference_config=args.inference_config,
        )
    except (ModelLoadError, ModelArchiveError, FileNotFoundError, ValueError) as e:
        return cli.fail(parser.prog, e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
