#!/usr/bin/env bash
# AISHELL-4 data preparation: data/aishell4_{train,dev,test} (TextGrid -> RTTM, one channel through a sox pipe, deterministic held-out dev).
# Stages 1 download, 2 prepare, 3 validate: utils/corpus_data.sh (options: local/data.sh --help).
# Corpus root: ${AISHELL4} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=aishell4
db_variable=AISHELL4
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
