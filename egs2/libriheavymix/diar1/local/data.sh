#!/usr/bin/env bash
# LibriheavyMix data preparation: data/libriheavymix_<set> from the lhotse manifests and mixtures.
# Stages 1 check of the local copy, 2 prepare, 3 validate: utils/corpus_data.sh.
# Corpus root: ${LIBRIHEAVYMIX} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=libriheavymix
db_variable=LIBRIHEAVYMIX
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
