#!/usr/bin/env python3
"""Build the offline speech corpus: speaker-labelled 8 kHz utterances from Debian speech packages
(``prepare_corpus offline_speech``).

Usage:
    # every voice (recorded prompts, flite, festival, espeak-ng), about 3 minutes each
    python -m espnet2_tsdia.bin.prepare_offline_speech --out_dir db/offline_speech --max_seconds_per_speaker 180 --nj 2

    python -m espnet2_tsdia.bin.prepare_offline_speech --out_dir db/two --sources 'en_allison fr_june' \\
        --max_utts_per_speaker 20 --perturb 'up:250:1.0 down:-250:1.0'

    # what can be built here, and which Debian package each source needs
    python -m espnet2_tsdia.bin.prepare_offline_speech sources

Writes ``<out_dir>/wav/<spk>/<utt>.wav``, the Kaldi dir ``<out_dir>/data`` (wav.scp, utt2spk,
spk2utt, utt2dur, text, spk2gender, speakers.tsv) and ``<out_dir>/skipped.tsv``, and prints the
data dir. A second run reuses every finished file; see :mod:`espnet2_tsdia.corpora.offline_speech`.
The other actions are those of every corpus (:mod:`espnet2_tsdia.bin.prepare_corpus`).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from espnet2_tsdia.bin.prepare_corpus import act, corpus_parser


def main(argv: Optional[List[str]] = None) -> int:
    return act(corpus_parser("offline_speech", __doc__).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
