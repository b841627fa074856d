#!/usr/bin/env bash
# VoxConverse data preparation: data/voxconverse_{dev,test} with the v0.3 references.
# Stages 1 download, 2 prepare, 3 validate: utils/corpus_data.sh (options: local/data.sh --help).
# Corpus root: ${VOXCONVERSE} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=voxconverse
db_variable=VOXCONVERSE
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
