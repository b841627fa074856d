#!/usr/bin/env bash
# VoxCeleb simulated conversations: check (or fetch) the local copy, VoxCeleb source dirs (ESPnet
# spk format; VoxCeleb2's m4a decoded once to wav), one simulated set per entry of the
# simulation yaml, validation of every dir. Corpus root: ${VOXCELEB} (db.sh).
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/log.sh"

stage=1                 # 1: local copy, 2: source dirs, 3: simulate, 4: validate
stop_stage=4
skip_download=false     # true: the archives are already extracted under ${VOXCELEB}
base_url=               # the address the VGG request gives for the archives (else put them in ${VOXCELEB}/downloads)
simu_conf=conf/simu/voxceleb.yaml  # the sets to simulate, and their source dirs
sets=                   # simulate only these sets (space-separated names; default all)
num_conversations=      # override every set's size (tiny sets for tests)
nj=4                    # ffmpeg jobs (stage 2) and simulation jobs per set (stage 3)
noise_dir=              # noise audio (Kaldi dir or folder); default: white noise at the yaml's SNRs
rir_dir=                # room impulse responses (Kaldi dir or folder); default: none
data_dir=data           # where source/ and the simulated sets go
python=python3          # the Python with espnet2_tsdia installed

# shellcheck disable=SC2034  # read by utils/parse_options.sh
help_message="Usage: $0 [options]
$(awk '/^help_message=/ {exit} /^[a-z_]+=/ {sub(/=/, " "); print "  --" $0}' "$0")"
# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/parse_options.sh"
[ $# -eq 0 ] || { log "Error: unexpected arguments: $* (options are --name value)"; exit 2; }
case "${skip_download}" in true | false) ;; *) log "Error: --skip_download must be true or false, got '${skip_download}'"; exit 2 ;; esac

# shellcheck disable=SC1091
if [ -f ./db.sh ]; then . ./db.sh; fi
# shellcheck disable=SC1091
if [ -f ./path.sh ]; then . ./path.sh; fi
[ -n "${VOXCELEB:-}" ] ||
    die "VOXCELEB is not set. Set VOXCELEB in db.sh (or the environment) to the VoxCeleb root (voxceleb1/, voxceleb2/, downloads/)."

# shellcheck disable=SC1091
. "$(dirname "$0")/../utils/simulated_sets.sh"
list_simulated_sets
subsets=$(while read -r name source; do selected "${name}" && echo "${source}"; done < "${data_dir}/.simu_sets" | sort -u | xargs)
[ -n "${subsets}" ] || die "no set of ${simu_conf} is selected (--sets '${sets}')"
voxceleb() { "${python}" -m espnet2_tsdia.bin.prepare_corpus voxceleb "$@" --subsets "${subsets}"; }

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped; using ${VOXCELEB}"
    else
        log "Stage 1: checking the VoxCeleb archives in ${VOXCELEB} (${subsets})"
        voxceleb download --corpus_dir "${VOXCELEB}" ${base_url:+--base_url "${base_url}"}
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: source dirs ${subsets} -> ${data_dir}/source"
    voxceleb prepare --corpus_dir "${VOXCELEB}" --out_dir "${data_dir}/source" --nj "${nj}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    simulate_selected_sets
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    log "Stage 4: validating the source dirs in ${data_dir}/source"
    voxceleb validate --out_dir "${data_dir}/source"
    verify_selected_sets
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
