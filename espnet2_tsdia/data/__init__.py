"""Kaldi-style data dirs as a whole: write, load, validate, fix, describe, lhotse export/import.

Built on :mod:`espnet2_tsdia.formats` (one file at a time) and :mod:`espnet2_tsdia.audio`.
"""
