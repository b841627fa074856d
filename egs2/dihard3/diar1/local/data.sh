#!/usr/bin/env bash
# DIHARD III data preparation from the local LDC releases: check them, prepare
# data/dihard3_{dev,eval}_{full,core} and data/dihard3_dev_{train,valid}, write per-domain
# descriptions, validate. The root comes from ${DIHARD3} (set in db.sh). Facts and protocol:
# conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: check the releases, 2: prepare, 3: validate
  --skip_download false        true: skip the check of stage 1 (nothing is downloaded: LDC corpus)
  --parts 'dev eval'           which releases
  --conditions 'full core'     which scoring conditions
  --valid_per_domain 2         dev recordings per domain held out as dihard3_dev_valid (0: none)
  --exclude ''                 recording ids to leave out (reported)
  --check_md5 false            true: verify every file against docs/file.tbl (reads all the audio)
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
parts="dev eval"
conditions="full core"
valid_per_domain=2
exclude=""
check_md5=false
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--skip_download|--parts|--conditions|--valid_per_domain|--exclude|--check_md5|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
if [ -z "${DIHARD3:-}" ]; then
    log "Error: DIHARD3 is not set. Set DIHARD3 in db.sh (or the environment) to the folder holding the DIHARD III LDC releases (dev LDC2022S12 or LDC2020E12, eval LDC2022S14 or LDC2021E02), e.g. DIHARD3=/data/dihard3."
    exit 1
fi

opts=(--parts "${parts}")
dir_opts=(--conditions "${conditions}" --valid_per_domain "${valid_per_domain}")

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: check of the releases skipped (--skip_download true); using ${DIHARD3}"
    else
        log "Stage 1: checking the DIHARD III releases under ${DIHARD3} (LDC-licensed: nothing to download)"
        ${python} -m espnet2_tsdia.bin.prepare_corpus dihard3 download --corpus_dir "${DIHARD3}" "${opts[@]}" \
            --check_md5 "${check_md5}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing data dirs in ${data_dir} (per-domain descriptions in ${data_dir}/dihard3_domains)"
    ${python} -m espnet2_tsdia.bin.prepare_corpus dihard3 --corpus_dir "${DIHARD3}" --out_dir "${data_dir}" \
        "${opts[@]}" "${dir_opts[@]}" --exclude "${exclude}" --describe_domains "${data_dir}/dihard3_domains"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus dihard3 dirs --out_dir "${data_dir}" "${opts[@]}" "${dir_opts[@]}"); do
        log "Stage 3: validating ${dir}"
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --expected_fs 16000 "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
