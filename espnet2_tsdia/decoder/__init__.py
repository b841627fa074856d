"""Causal transformer stacks with optional cross-attention, used as decoders."""
