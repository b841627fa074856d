#!/usr/bin/env bash
# ICSI data preparation: download (resumable), prepare data/icsi_{train,dev,test} (RTTM derived
# from the MRT transcripts; the Kaldi/lhotse 70/2/3 split), validate.
# The corpus root comes from ${ICSI} (set in db.sh). Facts and protocol: conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: download, 2: prepare, 3: validate
  --skip_download false        true: the corpus is already under \${ICSI}
  --mic ihm-mix                ihm-mix (headset mix, default) or a SPHERE channel chan0..chanF (chanF = D2)
  --splits 'train dev test'    which splits
  --vocal_sounds false         true: <VocalSound>-only segments count as speech
  --exclude ''                 meeting ids to leave out (reported)
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
mic=ihm-mix
splits="train dev test"
vocal_sounds=false
exclude=""
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--skip_download|--mic|--splits|--vocal_sounds|--exclude|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
if [ -z "${ICSI:-}" ]; then
    log "Error: ICSI is not set. Set ICSI in db.sh (or the environment) to the ICSI root, e.g. ICSI=/data/icsi; the download stage fills it."
    exit 1
fi

opts=(--mic "${mic}" --splits "${splits}")

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped (--skip_download true); using ${ICSI}"
    else
        log "Stage 1: downloading the ICSI MRT transcripts and ${mic} audio into ${ICSI}"
        ${python} -m espnet2_tsdia.bin.prepare_corpus icsi download --corpus_dir "${ICSI}" --mic "${mic}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing data dirs in ${data_dir}"
    ${python} -m espnet2_tsdia.bin.prepare_corpus icsi --corpus_dir "${ICSI}" --out_dir "${data_dir}" \
        "${opts[@]}" --vocal_sounds "${vocal_sounds}" --exclude "${exclude}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus icsi dirs --out_dir "${data_dir}" "${opts[@]}"); do
        log "Stage 3: validating ${dir}"
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --expected_fs 16000 --global_speakers "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
