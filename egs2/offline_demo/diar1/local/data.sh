#!/usr/bin/env bash
# Offline demo data: a speaker-labelled corpus from the speech packages installed by
# tools/install.sh (no download), split by speaker and voice family, and simulated conversations.
#   data/train, data/dev: conversations of the training and validation speakers
#   data/test:            two recorded voices never heard in training or validation (in-source)
#   data/test_hard:       the same two and the noisy recorded voice it_menardi, 2-3 per conversation
#   data/test_loso:       the flite family, never heard in training in any form (leave one source out)
#   data/<test set>/enroll.scp, enroll/: a 3-second enrollment clip per (recording, speaker),
#                         cut from utterances of the speaker that no conversation uses
set -euo pipefail

. utils/log.sh

stage=1                 # 1: offline speech corpus, 2: source dirs by role, 3: simulation, 4: enrollment clips
stop_stage=4
demo_size=default       # default: the README's demo; tiny: a few conversations (CI)
nj=2                    # parallel jobs
simu_conf=conf/simu/offline_demo.yaml
db=db/offline_speech    # where the corpus audio goes
enroll_seconds=3.0      # length of the separate enrollment clips
python=python

# Speakers by role. Families: recorded prompts, flite, festival, espeak-ng.
# - Training hears four recorded voices (and their pitch-shifted copies), the festival voices and
#   espeak-ng variants. Festival's kal and slt voices are the persons of flite kal and slt, which
#   the leave-one-source-out test holds out, so they are not trained on.
# - Validation: espeak-ng variants held out of training (decode options are tuned on it).
# - In-source tests: recorded voices, never heard in training or validation.
# - Leave-one-source-out test: every flite voice.
train_real="en_allison fr_armelle it_carlo ru_ivrvoice"
train_synth="fest_ca_ona fest_cs_krb fest_cs_machac fest_cs_ph fest_nsk fest_ru_nsh
    espeak_en_m1 espeak_en_f2 espeak_de_m3 espeak_es_f3 espeak_fr_m4 espeak_it_f4 espeak_pt_m5
    espeak_nl_f1 espeak_pl_m6 espeak_cs_m7 espeak_ro_klatt"
dev_spk="espeak_fi_f3 espeak_hu_m2 espeak_sv_f5"
test_spk="fr_june es_july"
test_hard_spk="fr_june es_july it_menardi"
test_loso_spk="flite_awb flite_kal flite_rms flite_slt"
enroll_utts=4           # utterances per held-out speaker kept out of the conversations (clip pool)

help_message="Usage: $0 [--demo_size default|tiny] [--nj N] [--stage N --stop_stage N]"
. utils/parse_options.sh
. ./path.sh

case "${demo_size}" in
    default) seconds=150 perturb="up:250:1.0 down:-250:1.0" ;;
    tiny)
        seconds=25 perturb="" enroll_utts=2
        train_real="en_allison it_carlo" train_synth="fest_cs_ph espeak_en_m1 espeak_de_m3"
        ;;
    *) log "Error: --demo_size must be default or tiny, got '${demo_size}'"; exit 2 ;;
esac
heldout_spk=$(printf '%s\n' ${dev_spk} ${test_hard_spk} ${test_loso_spk} | sort -u | tr '\n' ' ')

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    # Three trees: only the recorded training voices get perturbed copies (the synthetic ones
    # are many already). A rerun reuses every finished file.
    log "Stage 1: offline speech corpus (${seconds} s per speaker) in ${db}"
    "${python}" -m espnet2_tsdia.bin.prepare_corpus offline_speech --out_dir "${db}/train_real" --sources "${train_real}" \
        --max_seconds_per_speaker "${seconds}" --nj "${nj}" --perturb "${perturb}" > /dev/null
    "${python}" -m espnet2_tsdia.bin.prepare_corpus offline_speech --out_dir "${db}/train_synth" --sources "${train_synth}" \
        --max_seconds_per_speaker "${seconds}" --nj "${nj}" > /dev/null
    "${python}" -m espnet2_tsdia.bin.prepare_corpus offline_speech --out_dir "${db}/heldout" --sources "${heldout_spk}" \
        --max_seconds_per_speaker "${seconds}" --nj "${nj}" > /dev/null
fi

# write_source OUT SPEAKERS SELECT TREE...: a source dir of the speakers' utterances (all speakers
# of the trees when SPEAKERS is empty); SELECT: all, pool (all but the first ${enroll_utts} of each
# speaker) or enroll (those first ones)
write_source() {
    local out=$1 spk=$2 select=$3
    shift 3
    mkdir -p "${out}"
    for t in "$@"; do cat "${t}/data/utt2spk"; done | sort |
        awk -v s=" ${spk} " -v sel="${select}" -v k="${enroll_utts}" \
            '(s == "  " || index(s, " " $2 " ")) { n = ++seen[$2]; if (sel == "all" || (sel == "enroll") == (n <= k)) print }' \
            > "${out}/utt2spk"
    for f in wav.scp utt2dur; do
        for t in "$@"; do cat "${t}/data/${f}"; done | sort |
            awk 'NR == FNR {keep[$1]; next} $1 in keep' "${out}/utt2spk" - > "${out}/${f}"
    done
    awk '{u[$2] = u[$2] " " $1} END {for (s in u) print s u[s]}' "${out}/utt2spk" | sort > "${out}/spk2utt"
}

roles="train dev test test_hard test_loso"
if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: data/source/train: every speaker of ${db}/train_real and ${db}/train_synth"
    write_source data/source/train "" all "${db}/train_real" "${db}/train_synth"
    log "Stage 2: data/source/dev: ${dev_spk}"
    write_source data/source/dev "${dev_spk}" all "${db}/heldout"
    for role in test test_hard test_loso; do
        spk=${role}_spk
        log "Stage 2: data/source/${role}: ${!spk} (the first ${enroll_utts} utterances of each in data/source/${role}_enroll)"
        write_source "data/source/${role}" "${!spk}" pool "${db}/heldout"
        write_source "data/source/${role}_enroll" "${!spk}" enroll "${db}/heldout"
    done
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    for role in ${roles}; do
        log "Stage 3: simulating data/${role} from data/source/${role}"
        opts=()
        [ "${demo_size}" != tiny ] || opts=(--num_conversations "$([ "${role}" = train ] && echo 8 || echo 3)")
        "${python}" -m espnet2_tsdia.bin.simulate "${simu_conf}" --set "${role}" --source_dir "data/source/${role}" \
            --out_dir "data/${role}" --nj "${nj}" --python "${python}" "${opts[@]}"
    done
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    for role in test test_hard test_loso; do
        log "Stage 4: ${enroll_seconds}-second enrollment clips of data/${role} from data/source/${role}_enroll"
        "${python}" -m espnet2_tsdia.bin.make_enroll_clips "data/source/${role}_enroll" "data/${role}/rttm" \
            "data/${role}/enroll" --seconds "${enroll_seconds}" --log_level WARNING
    done
fi
log "Successfully finished [elapsed=${SECONDS}s]"
