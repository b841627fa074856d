"""Inference: Speech2TSDiarization, post-processing to RTTM, and diagnostic plots (``plots``)."""
