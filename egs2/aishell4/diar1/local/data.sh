#!/usr/bin/env bash
# AISHELL-4 data preparation: download (resumable), prepare data/aishell4_{train,dev,test}
# (TextGrid -> RTTM, one channel through a sox pipe, deterministic held-out dev), validate.
# The corpus root comes from ${AISHELL4} (set in db.sh). Facts and protocol: conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: download, 2: prepare, 3: validate
  --skip_download false        true: the corpus is already under \${AISHELL4}
  --parts 'train_L train_M train_S test'
  --channel 1                  1..8 (default 1, the official baseline) or downmix
  --num_dev 18                 training sessions held out as dev (0: none)
  --dev_list ''                file of dev session ids (overrides --num_dev)
  --exclude ''                 session ids to leave out (reported)
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
parts="train_L train_M train_S test"
channel=1
num_dev=18
dev_list=""
exclude=""
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--skip_download|--parts|--channel|--num_dev|--dev_list|--exclude|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
if [ -z "${AISHELL4:-}" ]; then
    log "Error: AISHELL4 is not set. Set AISHELL4 in db.sh (or the environment) to the AISHELL-4 root, e.g. AISHELL4=/data/aishell4; the download stage fills it."
    exit 1
fi

opts=(--parts "${parts}" --num_dev "${num_dev}")
if [ -n "${dev_list}" ]; then opts+=(--dev_list "${dev_list}"); fi

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped (--skip_download true); using ${AISHELL4}"
    else
        log "Stage 1: downloading AISHELL-4 (${parts}) from OpenSLR 111 into ${AISHELL4}"
        ${python} -m espnet2_tsdia.bin.prepare_corpus aishell4 download --corpus_dir "${AISHELL4}" --parts "${parts}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing data dirs in ${data_dir} (channel ${channel})"
    ${python} -m espnet2_tsdia.bin.prepare_corpus aishell4 --corpus_dir "${AISHELL4}" --out_dir "${data_dir}" \
        "${opts[@]}" --channel "${channel}" --exclude "${exclude}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus aishell4 dirs --out_dir "${data_dir}" "${opts[@]}"); do
        log "Stage 3: validating ${dir}"
        # wav.scp holds sox pipes (channel selection); their output is checked by the recipe's
        # feature stage, not decoded here (add --check_pipes to decode every file once).
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
