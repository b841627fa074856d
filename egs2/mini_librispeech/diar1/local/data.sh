#!/usr/bin/env bash
# mini_librispeech simulated conversations: download (resumable, md5-checked), reader-level source
# dirs, one simulated set per entry of the simulation yaml, validation of every dir.
# The corpus root comes from ${MINI_LIBRISPEECH} (db.sh; default downloads/ in the recipe dir).
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/log.sh"

stage=1                 # 1: download, 2: source dirs, 3: simulate, 4: validate
stop_stage=4
skip_download=false     # true: the corpus is already under ${MINI_LIBRISPEECH}
local_tree=             # an existing tree holding LibriSpeech/<part>/ (skips the download)
simu_conf=conf/simu/mini_librispeech.yaml  # the sets to simulate
sets=                   # simulate only these sets (space-separated names; default all)
num_conversations=      # override every set's size (tiny sets for tests)
nj=4                    # parallel simulation jobs per set
noise_dir=              # noise audio (Kaldi dir or folder); default: white noise at the yaml's SNRs
rir_dir=                # room impulse responses (Kaldi dir or folder); default: none
download_rirs=false     # true: fetch OpenSLR 26 sim_rir_8k.zip and use it as --rir_dir
download_noise=false    # true: fetch MUSAN (OpenSLR 17, about 11 GB) and use musan/noise/free-sound as --noise_dir
data_dir=data           # where source/ and the simulated sets go
python=python3          # the Python with espnet2_tsdia installed

# shellcheck disable=SC2034  # read by utils/parse_options.sh
help_message="Usage: $0 [options]
$(awk '/^help_message=/ {exit} /^[a-z_]+=/ {sub(/=/, " "); print "  --" $0}' "$0")"
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/parse_options.sh"
[ $# -eq 0 ] || { log "Error: unexpected arguments: $* (options are --name value)"; exit 2; }
for v in skip_download download_rirs download_noise; do
    case "${!v}" in true | false) ;; *) log "Error: --${v} must be true or false, got '${!v}'"; exit 2 ;; esac
done

# shellcheck disable=SC1091
if [ -f ./db.sh ]; then . ./db.sh; fi
# shellcheck disable=SC1091
if [ -f ./path.sh ]; then . ./path.sh; fi
MINI_LIBRISPEECH=${MINI_LIBRISPEECH:-downloads}
corpus=${local_tree:-${MINI_LIBRISPEECH}}
parts="train-clean-5 dev-clean-2"
librispeech() { "${python}" -m espnet2_tsdia.bin.prepare_corpus librispeech "$@" --parts "${parts}"; }

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ -n "${local_tree}" ] || [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped; using ${corpus}"
    else
        log "Stage 1: downloading mini_librispeech (${parts}) into ${MINI_LIBRISPEECH}"
        librispeech download --corpus_dir "${MINI_LIBRISPEECH}"
    fi
    if [ "${download_rirs}" = true ]; then
        log "Stage 1: downloading sim_rir_8k (OpenSLR 26; no published md5, so only the zip's integrity is checked)"
        "${python}" -m espnet2_tsdia.utils.download http://www.openslr.org/resources/26/sim_rir_8k.zip \
            "${MINI_LIBRISPEECH}/" --extract "${MINI_LIBRISPEECH}/sim_rir_8k"
    fi
    if [ "${download_noise}" = true ]; then
        log "Stage 1: downloading MUSAN (OpenSLR 17, about 11 GB; EEND uses its noise/free-sound part)"
        "${python}" -m espnet2_tsdia.utils.download https://www.openslr.org/resources/17/musan.tar.gz \
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
    librispeech prepare --corpus_dir "${corpus}" --out_dir "${data_dir}/source"
fi

# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/simulated_sets.sh"
list_simulated_sets

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    simulate_selected_sets
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    log "Stage 4: validating the source dirs in ${data_dir}/source"
    librispeech validate --out_dir "${data_dir}/source"
    verify_selected_sets
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
