#!/usr/bin/env python3
"""Reader-level Kaldi source dirs from a LibriSpeech / mini_librispeech tree (``prepare_corpus librispeech``).

Usage:
    python -m espnet2_tsdia.bin.prepare_librispeech download --corpus_dir downloads
    python -m espnet2_tsdia.bin.prepare_librispeech --corpus_dir downloads --out_dir data/source
    python -m espnet2_tsdia.bin.prepare_librispeech --corpus_dir /data/LibriSpeech --out_dir data/source \\
        --parts 'train-clean-100 dev-clean'

``download`` fetches mini_librispeech's parts from OpenSLR 31 (resumable, md5-checked) and
extracts them into ``--corpus_dir``; parts already extracted are skipped.

``prepare`` (the default action) writes ``<out_dir>/<part with _>/`` (wav.scp pointing at the flac
files, utt2spk/spk2utt with the reader as speaker, utt2dur from the headers, text, spk2gender) and
prints each dir on stdout. The other actions are those of every corpus
(:mod:`espnet2_tsdia.bin.prepare_corpus`).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from espnet2_tsdia.bin.prepare_corpus import act, corpus_parser


def main(argv: Optional[List[str]] = None) -> int:
    return act(corpus_parser("librispeech", __doc__).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
