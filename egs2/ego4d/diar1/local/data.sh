#!/usr/bin/env bash
# Ego4D AV diarization data preparation: data/ego4d_{train,val} (test labels are not public).
# Stages 1 download (the ego4d CLI, licence needed), 2 prepare, 3 validate: utils/corpus_data.sh.
# Corpus root: ${EGO4D} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=ego4d
db_variable=EGO4D
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
