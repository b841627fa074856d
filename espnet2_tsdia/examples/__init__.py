"""Target-speaker examples: one per (recording, speaker), above labels, frontend and simulate.

Modules: ``example_dir`` (ids, chunk lists, stored labels and enrollment specs of a data dir),
``enrollment`` (where a target talks alone, and which piece an example uses), ``datatypes`` (the
ESPnet data types that load them), ``collate`` (batching with lengths, frame-count checks),
``features`` (stored 345-dim features of an example dir).
"""
