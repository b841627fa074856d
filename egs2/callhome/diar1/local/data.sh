#!/usr/bin/env bash
# CALLHOME data preparation: fetch the public reference key (and BUT's split lists), prepare
# data/callhome{1,2}, the 2-speaker subsets and data/callhome1_{train,valid} from the local LDC
# copy, validate. The root comes from ${CALLHOME} (set in db.sh). Facts and protocol:
# conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: fetch the key, 2: prepare, 3: validate
  --skip_download false        true: the key is already under \${CALLHOME}/sre2000-key
  --split_lists ''             folder with part1.txt/part2.txt instead of the Kaldi derivation
  --num_part1 250              calls in callhome1 (Kaldi: 250)
  --two_speaker true           also the EEND 2-speaker subsets callhome{1,2}_spk2
  --num_valid 25               callhome1 calls held out as callhome1_valid (0: none)
  --exclude ''                 call ids to leave out (reported)
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
split_lists=""
num_part1=250
two_speaker=true
num_valid=25
exclude=""
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--skip_download|--split_lists|--num_part1|--two_speaker|--num_valid|--exclude|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
if [ -z "${CALLHOME:-}" ]; then
    log "Error: CALLHOME is not set. Set CALLHOME in db.sh (or the environment) to the LDC2001S97 copy (NIST SRE 2000 disk 8), e.g. CALLHOME=/data/LDC2001S97; the download stage adds the public key there."
    exit 1
fi

dir_opts=(--two_speaker "${two_speaker}" --num_valid "${num_valid}")
split_opts=(--num_part1 "${num_part1}")
[ -z "${split_lists}" ] || split_opts+=(--split_lists "${split_lists}")

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped (--skip_download true); using ${CALLHOME}"
    else
        log "Stage 1: fetching the CALLHOME reference key (OpenSLR 10) and BUT's lists into ${CALLHOME}"
        ${python} -m espnet2_tsdia.bin.prepare_corpus callhome download --corpus_dir "${CALLHOME}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing data dirs in ${data_dir}"
    ${python} -m espnet2_tsdia.bin.prepare_corpus callhome --corpus_dir "${CALLHOME}" --out_dir "${data_dir}" \
        "${split_opts[@]}" "${dir_opts[@]}" --exclude "${exclude}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus callhome dirs --out_dir "${data_dir}" "${dir_opts[@]}"); do
        log "Stage 3: validating ${dir}"
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --expected_fs 8000 "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
