#!/usr/bin/env bash
# ICSI data preparation: data/icsi_{train,dev,test}, RTTM derived from the MRT transcripts, the Kaldi/lhotse 70/2/3 split.
# Stages 1 download, 2 prepare, 3 validate: utils/corpus_data.sh (options: local/data.sh --help).
# Corpus root: ${ICSI} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=icsi
db_variable=ICSI
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
