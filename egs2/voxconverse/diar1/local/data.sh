#!/usr/bin/env bash
# VoxConverse data preparation: download (resumable), prepare data/voxconverse_{dev,test}
# with the v0.3 references, validate. The corpus root comes from ${VOXCONVERSE} (set in db.sh).
# Facts and protocol: conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: download, 2: prepare, 3: validate
  --skip_download false        true: the corpus is already under \${VOXCONVERSE}
  --splits 'dev test'          which splits
  --exclude ''                 recording ids to leave out (reported)
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
splits="dev test"
exclude=""
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--skip_download|--splits|--exclude|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
if [ -z "${VOXCONVERSE:-}" ]; then
    log "Error: VOXCONVERSE is not set. Set VOXCONVERSE in db.sh (or the environment) to the VoxConverse root, e.g. VOXCONVERSE=/data/voxconverse; the download stage fills it."
    exit 1
fi

opts=(--splits "${splits}")

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped (--skip_download true); using ${VOXCONVERSE}"
    else
        log "Stage 1: downloading the VoxConverse audio and v0.3 references into ${VOXCONVERSE}"
        ${python} -m espnet2_tsdia.bin.prepare_corpus voxconverse download --corpus_dir "${VOXCONVERSE}" "${opts[@]}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing data dirs in ${data_dir}"
    ${python} -m espnet2_tsdia.bin.prepare_corpus voxconverse --corpus_dir "${VOXCONVERSE}" --out_dir "${data_dir}" \
        "${opts[@]}" --exclude "${exclude}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus voxconverse dirs --out_dir "${data_dir}" "${opts[@]}"); do
        log "Stage 3: validating ${dir}"
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --expected_fs 16000 "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
