"""Trainer extensions: the plan's training knobs that ESPnet's trainer lacks."""
