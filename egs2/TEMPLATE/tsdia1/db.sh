# shellcheck shell=bash
# Corpus roots, one variable per corpus (set them here, or export them before ./run.sh).
# An empty root means "not available here": that corpus's local/data.sh stops and says so.
# Download stages fill the root they are given.
AMI=${AMI:-}
ICSI=${ICSI:-}
AISHELL4=${AISHELL4:-}
VOXCONVERSE=${VOXCONVERSE:-}
AVA_AVD=${AVA_AVD:-}
MSDWILD=${MSDWILD:-}
MINI_LIBRISPEECH=${MINI_LIBRISPEECH:-}
CHIME6=${CHIME6:-}
LIBRICSS=${LIBRICSS:-}
TEDLIUM=${TEDLIUM:-}
VOXCELEB=${VOXCELEB:-}
EGO4D=${EGO4D:-}
LIBRIHEAVYMIX=${LIBRIHEAVYMIX:-}
DIHARD3=${DIHARD3:-}
CALLHOME=${CALLHOME:-}
