"""Conversation simulation: config, turn-taking models, mixture specs and the on-the-fly renderer.

Modules: ``config`` (the frozen :class:`SimulationConfig`), ``sources`` (the source-utterance
table), ``turns`` (turn-taking models and overlap control), ``spec`` (the compact mixture-spec
format), ``generate`` (a whole set, in ``nj`` jobs), ``render`` (mixture audio, bit-identical on
every call; the ESPnet data type ``tsdia_mixture``), ``materialize`` (wav files).
"""
