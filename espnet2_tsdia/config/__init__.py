"""The plan's checklist of training keys and the nested-layout <-> ESPnet yaml converter."""
