"""Corpus preparation: one ``prepare_<corpus>()`` function per module, called by the recipes' ``local/data.sh``."""
