"""Bidirectional (or causal) transformer stacks used as encoders."""
