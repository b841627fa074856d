#!/usr/bin/env python3
"""Prepare reader-level Kaldi source dirs from a LibriSpeech / mini_librispeech tree.

Usage:
    python -m espnet2_tsdia.bin.prepare_librispeech downloads data/source
    python -m espnet2_tsdia.bin.prepare_librispeech --parts train-clean-100 dev-clean /data/LibriSpeech data/source
    python -m espnet2_tsdia.bin.prepare_librispeech --download_only downloads

``--download_only`` fetches mini_librispeech's parts from OpenSLR 31 (resumable, md5-checked)
and extracts them into ``corpus_dir``; parts already extracted are skipped.

Writes ``<out_dir>/<part with _>/`` (wav.scp pointing at the flac files, utt2spk/spk2utt with the
reader as speaker, utt2dur from the headers, text, spk2gender) and prints each dir on stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus_dir", help="folder holding LibriSpeech/ (or the LibriSpeech folder)")
    p.add_argument("out_dir", nargs="?", default=None, help="where the part dirs go")
    p.add_argument(
        "--download_only", action="store_true", help="download and extract the parts into corpus_dir, then stop"
    )
    p.add_argument(
        "--parts",
        nargs="+",
        default=["train-clean-5", "dev-clean-2"],
        help="LibriSpeech parts (default: mini_librispeech's)",
    )
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    from espnet2_tsdia.corpora.librispeech import download_librispeech, prepare_librispeech
    from espnet2_tsdia.utils.download import ChecksumError

    if args.download_only:
        try:
            download_librispeech(args.corpus_dir, parts=args.parts)
        except (ValueError, OSError, ChecksumError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    if args.out_dir is None:
        parser.error("out_dir is required (unless --download_only)")
    try:
        dirs = prepare_librispeech(args.corpus_dir, args.out_dir, parts=args.parts)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for d in dirs.values():
        print(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
