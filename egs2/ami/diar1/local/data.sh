#!/usr/bin/env bash
# AMI data preparation: download (resumable), prepare data/ami_{train,dev,test}, validate.
# The corpus root comes from ${AMI} (set in db.sh). Facts and protocol: conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: download, 2: prepare, 3: validate
  --skip_download false        true: the corpus is already under \${AMI}
  --stream Mix-Headset         Mix-Headset (default) or Array1-01 (SDM; dirs ami_sdm_*)
  --reference only_words       BUT reference flavour: only_words or word_and_vocalsounds
  --missing_ok false           true: leave out meetings without audio (reported)
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
stream=Mix-Headset
reference=only_words
missing_ok=false
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--skip_download|--stream|--reference|--missing_ok|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
if [ -z "${AMI:-}" ]; then
    log "Error: AMI is not set. Set AMI in db.sh (or the environment) to the AMI root, e.g. AMI=/data/ami; the download stage fills it."
    exit 1
fi

opts=(--stream "${stream}")

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped (--skip_download true); using ${AMI}"
    else
        log "Stage 1: downloading AMI (${stream}) and the BUT setup into ${AMI}"
        ${python} -m espnet2_tsdia.bin.prepare_corpus ami download --corpus_dir "${AMI}" "${opts[@]}" --missing_ok "${missing_ok}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing data dirs in ${data_dir}"
    ${python} -m espnet2_tsdia.bin.prepare_corpus ami --corpus_dir "${AMI}" --out_dir "${data_dir}" \
        "${opts[@]}" --reference "${reference}" --missing_ok "${missing_ok}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus ami dirs --out_dir "${data_dir}" "${opts[@]}"); do
        log "Stage 3: validating ${dir}"
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --expected_fs 16000 --global_speakers "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
