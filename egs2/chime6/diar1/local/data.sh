#!/usr/bin/env bash
# CHiME-6 data preparation: data/chime6_{train,dev,eval} (U06 CH1; --mic U01..U06, ref or worn:
# data/chime6_<mic>[_ch<c>]_*) from the JSON transcripts, track-2 UEMs.
# Stages 1 download, 2 prepare, 3 validate: utils/corpus_data.sh (options: local/data.sh --help).
# Corpus root: ${CHIME6} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=chime6
db_variable=CHIME6
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
