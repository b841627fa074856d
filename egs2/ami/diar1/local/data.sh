#!/usr/bin/env bash
# AMI data preparation: data/ami_{train,dev,test} (--stream Array1-01: data/ami_sdm_*), BUT references.
# Stages 1 download, 2 prepare, 3 validate: utils/corpus_data.sh (options: local/data.sh --help).
# Corpus root: ${AMI} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=ami
db_variable=AMI
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
