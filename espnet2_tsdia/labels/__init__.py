"""Target-speaker labels: speaker turns -> frame activity -> C x T class sequences (scheme registry)."""
