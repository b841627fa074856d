#!/usr/bin/env bash
# CHiME-6 data preparation: download (resumable), prepare data/chime6[_<mic>]_{train,dev,eval}
# from the JSON transcripts, validate. The corpus root comes from ${CHIME6} (set in db.sh).
# Facts and protocol: conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: download, 2: prepare, 3: validate
  --skip_download false        true: the corpus is already under \${CHIME6}
  --mic U06                    U01..U06 (an array), ref (the session's reference array) or worn
  --channel 1                  array channel 1..4
  --splits 'train dev eval'    which splits
  --sessions ''                only these sessions, e.g. 'S02 S09' (default: all of the splits)
  --uem track2                 track2, first_utterance (CHiME-7) or whole
  --rttm_dir ''                improved references <split>_rttm (a nateanl/chime6_rttm checkout)
  --missing_ok false           true: leave out sessions whose audio is missing (reported)
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
mic=U06
channel=1
splits="train dev eval"
sessions=""
uem=track2
rttm_dir=""
missing_ok=false
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--skip_download|--mic|--channel|--splits|--sessions|--uem|--rttm_dir|--missing_ok|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
if [ -z "${CHIME6:-}" ]; then
    log "Error: CHIME6 is not set. Set CHIME6 in db.sh (or the environment) to the CHiME-6 root, e.g. CHIME6=/data/chime6; the download stage fills it."
    exit 1
fi

opts=(--mic "${mic}" --channel "${channel}" --splits "${splits}")
[ -z "${sessions}" ] || opts+=(--sessions "${sessions}")

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped (--skip_download true); using ${CHIME6}"
    else
        log "Stage 1: downloading CHiME-6 (${splits}) from OpenSLR 150 into ${CHIME6}"
        ${python} -m espnet2_tsdia.bin.prepare_corpus chime6 download --corpus_dir "${CHIME6}" --splits "${splits}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing data dirs in ${data_dir}"
    extra=(--uem "${uem}" --missing_ok "${missing_ok}")
    [ -z "${rttm_dir}" ] || extra+=(--rttm_dir "${rttm_dir}")
    ${python} -m espnet2_tsdia.bin.prepare_corpus chime6 --corpus_dir "${CHIME6}" --out_dir "${data_dir}" \
        "${opts[@]}" "${extra[@]}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus chime6 dirs --out_dir "${data_dir}" "${opts[@]}"); do
        log "Stage 3: validating ${dir}"
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --expected_fs 16000 --global_speakers "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
