"""Hyper-parameter tuning studies: trials as ordinary training runs (trial), the Optuna and Ray
Tune backends, their records and the study's outputs (report). The ``tuning`` section they read
(settings, search space) is :mod:`espnet2_tsdia.config.tuning`; the command-line tool is
``python -m espnet2_tsdia.bin.tune``."""
