#!/usr/bin/env bash
# MSDWild data preparation: references from the repo, the wav zip fetched by hand (md5 checked),
# prepare data/msdwild_{few_train,few_val,many_val}, validate. Corpus root: ${MSDWILD} (db.sh).
# Facts and protocol: conf/corpus.yaml.
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 3     1: download, 2: prepare, 3: validate
  --skip_download false        true: the corpus is already under \${MSDWILD}
  --splits 'few.train few.val many.val'  which splits
  --exclude ''                 recording ids to leave out (reported)
  --data_dir data              where the data dirs go
  --python python3             the Python with espnet2_tsdia installed"

stage=1
stop_stage=3
skip_download=false
splits="few.train few.val many.val"
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
if [ -z "${MSDWILD:-}" ]; then
    log "Error: MSDWILD is not set. Set MSDWILD in db.sh (or the environment) to the MSDWild root, e.g. MSDWILD=/data/msdwild; the download stage fills it."
    exit 1
fi

opts=(--splits "${splits}")

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped (--skip_download true); using ${MSDWILD}"
    else
        log "Stage 1: fetching the MSDWild references and checking/extracting the hand-downloaded wav zip in ${MSDWILD}"
        ${python} -m espnet2_tsdia.bin.prepare_corpus msdwild download --corpus_dir "${MSDWILD}" "${opts[@]}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing data dirs in ${data_dir}"
    ${python} -m espnet2_tsdia.bin.prepare_corpus msdwild --corpus_dir "${MSDWILD}" --out_dir "${data_dir}" \
        "${opts[@]}" --exclude "${exclude}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for dir in $(${python} -m espnet2_tsdia.bin.prepare_corpus msdwild dirs --out_dir "${data_dir}" "${opts[@]}"); do
        log "Stage 3: validating ${dir}"
        # The MSDWild README does not state the sample rate (16 kHz presumed): not enforced here.
        ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --expected_fs none "${dir}"
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
