"""The standard 345-dim feature: frame arithmetic, the ESPnet frontend and feature storage.

Import the submodules: ``frames`` (no torch needed), ``fbank`` (the frontend), ``storage``.
"""
