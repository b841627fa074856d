#!/usr/bin/env python3
"""Train a target-speaker diarization model with ESPnet (TSDiarizationTask).

Usage:
    python -m espnet2_tsdia.bin.tsdia_train --config conf/train_encoder_decoder_softmax.yaml \
        --output_dir exp/tsdia_train \
        --train_data_path_and_name_and_type dump/train/tsdia/chunks,speech,tsdia_feats \
        --train_data_path_and_name_and_type dump/train/tsdia/chunks,enroll,tsdia_enroll_feats \
        --train_data_path_and_name_and_type dump/train/tsdia/chunks,labels,tsdia_labels \
        --train_shape_file dump/train/tsdia/chunks.shape \
        --valid_data_path_and_name_and_type ... --valid_shape_file ... --resume true
    python -m espnet2_tsdia.bin.tsdia_train --print_config          # every option with its default
    python -m espnet2_tsdia.bin.tsdia_train --config nested.yaml ...  # the checklist's nested layout works too

ESPnet's behaviour applies: yaml + command-line override (the command line wins),
``--collect_stats true``, ``--resume true`` (from ``<output_dir>/checkpoint.pth``), n-best
averaging into ``valid.loss.ave.pth``, tensorboard under ``<output_dir>/tensorboard``. A
``--config`` in the nested layout is converted to ESPnet's (``config convert``) before ESPnet
parses the command line; ``<output_dir>/config.yaml`` holds the ESPnet form.
"""

import sys
import tempfile
from typing import Optional, Sequence

from espnet2_tsdia.config.layout import espnet_config_argument
from espnet2_tsdia.tasks.tsdia import TSDiarizationTask
from espnet2_tsdia.utils import cli


def get_parser():
    """ESPnet's parser of the task, with this module's docstring (its Usage block) as description."""
    parser = TSDiarizationTask.get_parser()
    parser.description = __doc__
    parser.formatter_class = cli.HelpFormatter
    return parser


def main(cmd: Optional[Sequence[str]] = None):
    cmd = list(sys.argv[1:] if cmd is None else cmd)
    if "-h" in cmd or "--help" in cmd:  # ESPnet's main would build its own parser, described "base parser"
        get_parser().print_help()
        return
    # the converted yaml is read while ESPnet parses the command line; it goes with the run
    with tempfile.TemporaryDirectory(prefix="tsdia_train_") as workdir:
        TSDiarizationTask.main(cmd=espnet_config_argument(cmd, workdir))


if __name__ == "__main__":
    main()
