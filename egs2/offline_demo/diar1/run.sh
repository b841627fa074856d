#!/usr/bin/env bash
# The offline demo (no download): conversations simulated from Debian's speech packages, a small
# encoder-decoder with linear attention and speaker-similarity conditioning trained on CPU, an
# x-vector model for the first pass, decode options chosen on dev; scored on voices never heard
# in training (two in-source splits and a leave-one-source-out one; oracle regions, separate
# clips and the first pass as enrollment) and packed. Figures: RESULTS.md (bench/quality.py).
#   python -m espnet2_tsdia.bin.diarize meeting.wav -o out.rttm --model exp/tsdia_demo_default/demo_default.zip
#   ./run.sh                     # the README's main job
#   ./run.sh --demo_size tiny    # every stage on a handful of conversations (CI)
#   ./run.sh --stage 5           # resume at training; any tsdia.sh option works
#   ./run.sh --demo_size tiny --stage 5 --tune true --train_config conf/tune_demo_tiny.yaml  # tuning study
set -euo pipefail

demo_size=default
args=()
while [ $# -gt 0 ]; do
    if [ "$1" = --demo_size ]; then demo_size=$2; shift 2; else args+=("$1"); shift; fi
done
case "${demo_size}" in
    default) train_config=conf/train_demo.yaml spk_config=conf/train_spk_demo.yaml ;;
    tiny) train_config=conf/train_demo_tiny.yaml spk_config=conf/train_spk_demo_tiny.yaml ;;
    *) echo "$0: --demo_size must be default or tiny, got '${demo_size}'" >&2; exit 2 ;;
esac

./tsdia.sh \
    --train_set train --valid_set dev --test_sets "test test_hard test_loso" \
    --local_data_opts "--demo_size ${demo_size} --nj 2" \
    --validate_opts "--global_speakers" \
    --example_opts "--chunk_frames 300 --chunk_hop 150" \
    --nj 2 --inference_nj 2 --num_plots 2 \
    --decode_search conf/decode_search.yaml --enroll_clips enroll/enroll.scp \
    --train_config "${train_config}" --tag "demo_${demo_size}" --enroll_source "oracle first_pass" \
    --spk_config "${spk_config}" --spk_train_dir data/source/train --spk_valid_dir data/source/dev \
    "${args[@]}"
