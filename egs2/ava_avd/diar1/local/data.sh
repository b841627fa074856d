#!/usr/bin/env bash
# AVA-AVD data preparation: download (split files and movies; the annotations by hand from
# Google Drive), cut the clip audio from the movies with ffmpeg (resumable), prepare
# data/ava_avd_{train,val,test} with the offsets applied, validate.
# The corpus root comes from ${AVA_AVD} (set in db.sh). Facts and protocol: conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: download, 2: cut clip audio and prepare, 3: validate
  --skip_download false        true: the corpus is already under \${AVA_AVD}
  --splits 'train val test'    which splits
  --audio_dir ''               where the derived clip wavs go (default \${AVA_AVD}/waves)
  --sample_rate 16000          of the derived wavs
  --nj 4                       ffmpeg processes at once
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
splits="train val test"
audio_dir=""
sample_rate=16000
nj=4
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--skip_download|--splits|--audio_dir|--sample_rate|--nj|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
if [ -z "${AVA_AVD:-}" ]; then
    log "Error: AVA_AVD is not set. Set AVA_AVD in db.sh (or the environment) to the AVA-AVD root, e.g. AVA_AVD=/data/ava_avd; the download stage fills it."
    exit 1
fi

opts=(--splits "${splits}")
if [ -n "${audio_dir}" ]; then opts+=(--audio_dir "${audio_dir}"); fi

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped (--skip_download true); using ${AVA_AVD}"
    else
        log "Stage 1: fetching the AVA-AVD split files, the annotations (checked) and the movies into ${AVA_AVD}"
        ${python} -m espnet2_tsdia.bin.prepare_corpus ava_avd download --corpus_dir "${AVA_AVD}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: cutting clip audio (ffmpeg, ${nj} at once) and preparing data dirs in ${data_dir}"
    ${python} -m espnet2_tsdia.bin.prepare_corpus ava_avd --corpus_dir "${AVA_AVD}" --out_dir "${data_dir}" \
        "${opts[@]}" --sample_rate "${sample_rate}" --nj "${nj}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus ava_avd dirs --out_dir "${data_dir}" "${opts[@]}"); do
        log "Stage 3: validating ${dir}"
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --expected_fs "${sample_rate}" "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
