"""Diarization scoring: DER and JER with an explicit protocol, and the RESULTS.md/result.json writers."""
