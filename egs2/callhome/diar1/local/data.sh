#!/usr/bin/env bash
# CALLHOME data preparation: data/callhome{1,2} (the Kaldi/ESPnet split), the EEND 2-speaker
# subsets callhome{1,2}_spk2 and data/callhome1_{train,valid} from the local LDC2001S97 copy.
# Stages 1 fetch the public reference key (OpenSLR 10) and BUT's lists, 2 prepare, 3 validate:
# utils/corpus_data.sh (options: local/data.sh --help). Corpus root: ${CALLHOME} (db.sh).
# Facts and protocol: conf/corpus.yaml.
corpus=callhome
db_variable=CALLHOME
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
