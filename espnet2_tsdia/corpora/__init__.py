"""Corpus preparation: one ``prepare_<corpus>()`` function per module, called by recipes '  local/data.sh."""
