#!/usr/bin/env bash
# MSDWild data preparation: data/msdwild_{few_train,few_val,many_val}; references from the repo, the wav zip fetched by hand (md5 checked).
# Stages 1 download, 2 prepare, 3 validate: utils/corpus_data.sh (options: local/data.sh --help).
# Corpus root: ${MSDWILD} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=msdwild
db_variable=MSDWILD
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
