#!/usr/bin/env bash
# DIHARD III data preparation from the local LDC releases: data/dihard3_{dev,eval}_{full,core},
# data/dihard3_dev_{train,valid}, per-domain descriptions in data/dihard3_domains.
# Stages 1 check the releases (LDC: nothing is downloaded), 2 prepare, 3 validate:
# utils/corpus_data.sh (options: local/data.sh --help). Corpus root: ${DIHARD3} (db.sh), the
# folder holding both releases. Facts and protocol: conf/corpus.yaml.
corpus=dihard3
db_variable=DIHARD3
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
