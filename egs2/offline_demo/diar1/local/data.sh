#!/usr/bin/env bash
# Offline demo data: a speaker-labelled corpus from the speech packages installed by
# tools/install.sh (no download), split by speaker, and simulated conversations.
#   data/train, data/dev: conversations of the training and validation speakers
#   data/test:            conversations of speakers never heard in training or validation
set -euo pipefail

. utils/log.sh

stage=1                 # 1: offline speech corpus, 2: source dirs by speaker, 3: simulation
stop_stage=3
demo_size=default       # default: the README's demo; tiny: a few conversations (CI)
nj=2                    # parallel jobs
simu_conf=conf/simu/offline_demo.yaml
db=db/offline_speech    # where the corpus audio goes
python=python

# Speakers by role, 7 / 2 / 2 of the 11 voices: test and validation voices are never heard in
# training, and the test pairs a real female voice with a synthetic male one. The training
# voices also come pitch-shifted (sox, +-250 cents) as extra pseudo-speakers in the default size.
train_spk="en_allison fr_armelle it_carlo ru_ivrvoice flite_awb flite_rms flite_slt"
dev_spk="es_july it_menardi"
test_spk="fr_june flite_kal"

help_message="Usage: $0 [--demo_size default|tiny] [--nj N] [--stage N --stop_stage N]"
. utils/parse_options.sh
. ./path.sh

case "${demo_size}" in
    default) seconds=150 perturb="up:250:1.0 down:-250:1.0" train_n=400 dev_n=30 test_n=40 ;;
    tiny) seconds=15 perturb="" train_n=6 dev_n=2 test_n=3 ;;
    *) log "Error: --demo_size must be default or tiny, got '${demo_size}'"; exit 2 ;;
esac

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    # Training voices and held-out voices in separate trees: only the training voices get
    # perturbed copies. A rerun reuses every finished file.
    log "Stage 1: offline speech corpus (${seconds} s per speaker) in ${db}"
    "${python}" -m espnet2_tsdia.bin.prepare_corpus offline_speech --out_dir "${db}/train" --sources "${train_spk}" \
        --max_seconds_per_speaker "${seconds}" --nj "${nj}" --perturb "${perturb}" > /dev/null
    "${python}" -m espnet2_tsdia.bin.prepare_corpus offline_speech --out_dir "${db}/heldout" \
        --sources "${dev_spk} ${test_spk}" --max_seconds_per_speaker "${seconds}" --nj "${nj}" > /dev/null
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    for role in train dev test; do
        src=${db}/heldout/data spk=${dev_spk}
        [ "${role}" != train ] || src=${db}/train/data spk=""
        [ "${role}" != test ] || spk=${test_spk}
        out=data/source/${role}
        log "Stage 2: ${out}: speakers ${spk:-of ${src}}"
        mkdir -p "${out}"
        # utt2spk lines of the role's speakers (all of the train tree), then the same utterances
        awk -v s=" ${spk} " 's == "  " || index(s, " " $2 " ")' "${src}/utt2spk" > "${out}/utt2spk"
        for f in wav.scp utt2dur; do
            awk 'NR == FNR {keep[$1]; next} $1 in keep' "${out}/utt2spk" "${src}/${f}" > "${out}/${f}"
        done
        awk '{u[$2] = u[$2] " " $1} END {for (s in u) print s u[s]}' "${out}/utt2spk" | sort > "${out}/spk2utt"
    done
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for role in train dev test; do
        n=${role}_n
        log "Stage 3: simulating data/${role} (${!n} conversations) from data/source/${role}"
        "${python}" -m espnet2_tsdia.bin.simulate "${simu_conf}" --set "${role}" --source_dir "data/source/${role}" \
            --out_dir "data/${role}" --num_conversations "${!n}" --nj "${nj}" --python "${python}"
    done
fi
log "Successfully finished [elapsed=${SECONDS}s]"
