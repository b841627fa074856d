"""Baselines from other toolkits, trained and scored on our data with our protocol.

- :mod:`.eend_data`: ESPnet's stock EEND (SA-EEND, EEND-EDA) inputs: features and frame-level
  speaker labels per recording.
- :mod:`.eend_decode`: its posteriors -> RTTM turns, and decoding a set with ESPnet's
  ``DiarizeSpeech``.
"""
