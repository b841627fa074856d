#!/usr/bin/env bash
# LibriCSS data preparation: check and extract the hand-downloaded for_release.zip, prepare
# data/libricss_{dev,eval}[_<cond>], validate. The corpus root comes from ${LIBRICSS} (set in
# db.sh). Facts and protocol: conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: check and extract for_release.zip, 2: prepare, 3: validate
  --skip_download false        true: the corpus is already extracted under \${LIBRICSS}
  --audio record               record (the room recording) or mix (the clean mixture; dirs libricss_mix_*)
  --channel 0                  0-based channel of the 7-channel recording
  --conditions '0L 0S OV10 OV20 OV30 OV40'
  --sessions '0 1 2 3 4 5 6 7 8 9'
  --dev_sessions 0             sessions of the dev set (the rest are eval)
  --by_condition true          also one data dir per split and condition
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
audio=record
channel=0
conditions="0L 0S OV10 OV20 OV30 OV40"
sessions="0 1 2 3 4 5 6 7 8 9"
dev_sessions=0
by_condition=true
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--skip_download|--audio|--channel|--conditions|--sessions|--dev_sessions|--by_condition|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
if [ -z "${LIBRICSS:-}" ]; then
    log "Error: LIBRICSS is not set. Set LIBRICSS in db.sh (or the environment) to the LibriCSS root, e.g. LIBRICSS=/data/libricss, and save for_release.zip there."
    exit 1
fi

opts=(--audio "${audio}" --channel "${channel}" --conditions "${conditions}" --sessions "${sessions}"
      --dev_sessions "${dev_sessions}" --by_condition "${by_condition}")

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download check skipped (--skip_download true); using ${LIBRICSS}"
    else
        log "Stage 1: checking and extracting ${LIBRICSS}/for_release.zip (a hand download from Google Drive)"
        ${python} -m espnet2_tsdia.bin.prepare_corpus libricss download --corpus_dir "${LIBRICSS}" --sessions "${sessions}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing data dirs in ${data_dir}"
    ${python} -m espnet2_tsdia.bin.prepare_corpus libricss --corpus_dir "${LIBRICSS}" --out_dir "${data_dir}" "${opts[@]}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus libricss dirs --out_dir "${data_dir}" "${opts[@]}"); do
        log "Stage 3: validating ${dir}"
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --expected_fs 16000 --global_speakers "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
