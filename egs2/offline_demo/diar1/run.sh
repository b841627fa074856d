#!/usr/bin/env bash
# The offline demo: conversations simulated from 11 voices of the Debian speech packages and
# flite (no download), a tiny encoder-decoder with linear attention trained on CPU, scored on
# speakers never heard in training next to the trivial baselines, and packed.
#   ./run.sh                     # the README's main job (about 9 minutes on 2 idle cores)
#   ./run.sh --demo_size tiny    # every stage on a handful of conversations (CI, under a minute)
#   ./run.sh --stage 5           # resume at training; any tsdia.sh option works
#   ./run.sh --demo_size tiny --stage 5 --tune true --train_config conf/tune_demo_tiny.yaml
#                                # a 6-trial tuning study (about 3 minutes), then the best config trained
set -euo pipefail

demo_size=default
args=()
while [ $# -gt 0 ]; do
    if [ "$1" = --demo_size ]; then demo_size=$2; shift 2; else args+=("$1"); shift; fi
done
case "${demo_size}" in
    default) train_config=conf/train_demo.yaml ;;
    tiny) train_config=conf/train_demo_tiny.yaml ;;
    *) echo "$0: --demo_size must be default or tiny, got '${demo_size}'" >&2; exit 2 ;;
esac

./tsdia.sh \
    --train_set train --valid_set dev --test_sets test \
    --local_data_opts "--demo_size ${demo_size} --nj 2" \
    --validate_opts "--global_speakers" \
    --example_opts "--chunk_frames 300 --chunk_hop 150" \
    --nj 2 --inference_nj 2 --num_plots 2 \
    --train_config "${train_config}" \
    --tag "demo_${demo_size}" \
    "${args[@]}"
