"""Small shared utilities: atomic writes, downloads."""
