"""Small shared utilities (downloads, audio helpers)."""
