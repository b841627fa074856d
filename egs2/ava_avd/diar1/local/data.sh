#!/usr/bin/env bash
# AVA-AVD data preparation: clip audio cut from the movies with ffmpeg (resumable), data/ava_avd_{train,val,test} with the offsets applied; the annotations come by hand from Google Drive.
# Stages 1 download, 2 prepare, 3 validate: utils/corpus_data.sh (options: local/data.sh --help).
# Corpus root: ${AVA_AVD} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=ava_avd
db_variable=AVA_AVD
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
