#!/usr/bin/env bash
# LibriCSS data preparation: data/libricss_{dev,eval} and data/libricss_{dev,eval}_<condition>
# (channel 0 of the recording; --audio mix: data/libricss_mix_*). Stage 1 checks and extracts the
# hand-downloaded for_release.zip (Google Drive) saved in the corpus root.
# Stages 1 download, 2 prepare, 3 validate: utils/corpus_data.sh (options: local/data.sh --help).
# Corpus root: ${LIBRICSS} (db.sh). Facts and protocol: conf/corpus.yaml.
# shellcheck disable=SC2034  # read by utils/corpus_data.sh
corpus=libricss
db_variable=LIBRICSS
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/corpus_data.sh" "$@"
