"""Target-speaker diarization (TS-DIA) as an ESPnet2 extension plugin.

Importing this package has no side effects: registries are filled when
``espnet2_tsdia.tasks.tsdia`` is imported.
"""

__version__ = "0.1.0"
