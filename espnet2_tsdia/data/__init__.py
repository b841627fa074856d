"""Kaldi-style data dirs, RTTM and UEM: reading, writing, validating, fixing."""
