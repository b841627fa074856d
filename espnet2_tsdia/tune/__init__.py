"""Hyper-parameter tuning: the ``tuning`` section (settings, search space), trials as ordinary
training runs (trial), the Optuna and Ray Tune backends, and the study's outputs (report).
The command-line tool is ``python -m espnet2_tsdia.bin.tune``."""
