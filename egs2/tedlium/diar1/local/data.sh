#!/usr/bin/env bash
# TED-LIUM data preparation: data/tedlium3_{train,dev,test} (--release 2: data/tedlium2_*), talks from the STMs.
# Stages 1 download, 2 prepare, 3 validate: utils/corpus_data.sh (options: local/data.sh --help).
# Corpus root: ${TEDLIUM} (db.sh). Facts and role (a single-speaker source): conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=tedlium
db_variable=TEDLIUM
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
