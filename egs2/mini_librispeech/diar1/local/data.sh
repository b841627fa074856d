#!/usr/bin/env bash
# mini_librispeech simulated conversations: download (resumable, md5-checked), reader-level source
# dirs, one simulated set per entry of the simulation yaml, validation of every dir.
# The corpus root comes from ${MINI_LIBRISPEECH} (db.sh; default downloads/ in the recipe dir).
set -euo pipefail

log() {
    local fname=${BASH_SOURCE[1]##*/}
    echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

help_message="Usage: $0 [options]
  --stage 1 --stop_stage 4       1: download, 2: source dirs, 3: simulate, 4: validate
  --local_tree ''                an existing tree holding LibriSpeech/<part>/ (skips the download)
  --simu_conf conf/simu/mini_librispeech.yaml   the sets to simulate
  --sets ''                      simulate only these sets (space-separated names; default all)
  --num_conversations ''         override every set's size (tiny sets for tests)
  --nj 4                         parallel simulation jobs per set
  --noise_dir ''                 noise audio (Kaldi dir or folder); default: white noise at the yaml's SNRs
  --rir_dir ''                   room impulse responses (Kaldi dir or folder); default: none
  --download_rirs false          true: fetch OpenSLR 26 sim_rir_8k.zip and use it as --rir_dir
  --download_noise false         true: fetch MUSAN (OpenSLR 17, about 11 GB) and use musan/noise/free-sound as --noise_dir
  --data_dir data                where source/ and the simulated sets go
  --python python3               the Python with espnet2_tsdia installed"

stage=1
stop_stage=4
local_tree=
simu_conf=conf/simu/mini_librispeech.yaml
sets=
num_conversations=
nj=4
noise_dir=
rir_dir=
download_rirs=false
download_noise=false
data_dir=data
python=python3

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) echo "${help_message}"; exit 0 ;;
        --stage|--stop_stage|--local_tree|--simu_conf|--sets|--num_conversations|--nj|--noise_dir|--rir_dir|--download_rirs|--download_noise|--data_dir|--python)
            [ $# -ge 2 ] || { log "option $1 needs a value"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) log "unknown option $1"; echo "${help_message}" >&2; exit 2 ;;
    esac
done

if [ -f ./db.sh ]; then . ./db.sh; fi
if [ -f ./path.sh ]; then . ./path.sh; fi
MINI_LIBRISPEECH=${MINI_LIBRISPEECH:-downloads}
corpus=${local_tree:-${MINI_LIBRISPEECH}}
parts="train-clean-5 dev-clean-2"

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ -n "${local_tree}" ]; then
        log "Stage 1: download skipped (--local_tree ${local_tree})"
    else
        log "Stage 1: downloading mini_librispeech (${parts}) into ${MINI_LIBRISPEECH}"
        ${python} -m espnet2_tsdia.bin.prepare_librispeech "${MINI_LIBRISPEECH}" --download_only --parts ${parts}
    fi
    if [ "${download_rirs}" = true ]; then
        log "Stage 1: downloading sim_rir_8k (OpenSLR 26; no published md5, so only the zip's integrity is checked)"
        ${python} -m espnet2_tsdia.utils.download http://www.openslr.org/resources/26/sim_rir_8k.zip \
            "${MINI_LIBRISPEECH}/" --extract "${MINI_LIBRISPEECH}/sim_rir_8k"
    fi
    if [ "${download_noise}" = true ]; then
        log "Stage 1: downloading MUSAN (OpenSLR 17, about 11 GB; EEND uses its noise/free-sound part)"
        ${python} -m espnet2_tsdia.utils.download https://www.openslr.org/resources/17/musan.tar.gz \
            "${MINI_LIBRISPEECH}/" --extract "${MINI_LIBRISPEECH}"
    fi
fi
if [ "${download_rirs}" = true ] && [ -z "${rir_dir}" ]; then
    rir_dir=${MINI_LIBRISPEECH}/sim_rir_8k
fi
if [ "${download_noise}" = true ] && [ -z "${noise_dir}" ]; then
    noise_dir=${MINI_LIBRISPEECH}/musan/noise/free-sound
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: reader-level source dirs from ${corpus} -> ${data_dir}/source"
    ${python} -m espnet2_tsdia.bin.prepare_librispeech "${corpus}" "${data_dir}/source" --parts ${parts}
fi

mkdir -p "${data_dir}"
${python} -m espnet2_tsdia.bin.simulate --list "${simu_conf}" > "${data_dir}/.simu_sets"

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    opts=(--nj "${nj}" --python "${python}")
    [ -n "${num_conversations}" ] && opts+=(--num_conversations "${num_conversations}")
    [ -n "${noise_dir}" ] && opts+=(--noise_dir "${noise_dir}")
    [ -n "${rir_dir}" ] && opts+=(--rir_dir "${rir_dir}")
    while read -r name source; do
        if [ -n "${sets}" ] && [[ " ${sets} " != *" ${name} "* ]]; then
            continue
        fi
        log "Stage 3: simulating ${name} from ${data_dir}/source/${source}"
        ${python} -m espnet2_tsdia.bin.simulate --set "${name}" --source_dir "${data_dir}/source/${source}" \
            --out_dir "${data_dir}/${name}" "${opts[@]}" "${simu_conf}"
    done < "${data_dir}/.simu_sets"
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    dirs=$(ls -d "${data_dir}"/source/*/)
    while read -r name source; do
        if [ -z "${sets}" ] || [[ " ${sets} " == *" ${name} "* ]]; then
            dirs="${dirs} ${data_dir}/${name}"
        fi
    done < "${data_dir}/.simu_sets"
    for dir in ${dirs}; do
        dir=${dir%/}
        if [ -f "${dir}/specs.jsonl" ]; then
            log "Stage 4: checking ${dir} against its targets"
            ${python} -m espnet2_tsdia.bin.simulate --verify "${dir}"
        fi
        if ${python} -c 'import espnet2_tsdia.bin.validate_data_dir' 2>/dev/null; then
            log "Stage 4: validating ${dir}"
            ${python} -m espnet2_tsdia.bin.validate_data_dir --quiet --global_speakers "${dir}"
        else
            log "Stage 4: espnet2_tsdia.bin.validate_data_dir is not available; skipping the validation of ${dir}"
        fi
    done
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
