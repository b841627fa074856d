"""Inference: Speech2TSDiarization, post-processing to RTTM, and diagnostic plots (``plots``)."""

# Lazy exports: importing the package stays cheap (no torch) until one of these is used.
_EXPORTS = {
    "Speech2TSDiarization": "espnet2_tsdia.inference.speech2tsdia",
    "EvalKnobs": "espnet2_tsdia.inference.speech2tsdia",
    "TSDiaResult": "espnet2_tsdia.inference.speech2tsdia",
    "PostprocessOptions": "espnet2_tsdia.inference.postprocess",
    "pack_model": "espnet2_tsdia.inference.pack",
    "unpack_model": "espnet2_tsdia.inference.pack",
}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
