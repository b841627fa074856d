#!/usr/bin/env bash
# The offline demo: conversations simulated from 11 voices of the Debian speech packages and
# flite (no download), a tiny encoder-decoder with linear attention trained on CPU, scored on
# speakers never heard in training next to the trivial baselines, and packed.
#   ./run.sh                     # the README's main job (about 9 minutes on 2 idle cores)
#   ./run.sh --demo_size tiny    # every stage on a handful of conversations (CI, under a minute)
#   ./run.sh --stage 5           # resume at training; any tsdia.sh option works
#   ./run.sh --demo_size tiny --stage 5 --tune true --train_config conf/tune_demo_tiny.yaml
#                                # a 6-trial tuning study (about 3 minutes), then the best config trained
#   ./run.sh --eend_baseline true   # then ESPnet's stock EEND (SA-EEND, EEND-EDA) on the same sets
#   ./run.sh --eend_baseline only   # the EEND baseline alone (local/eend_baseline.sh; needs stages 1-3)
set -euo pipefail

demo_size=default
eend_baseline=false
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --demo_size) demo_size=$2; shift 2 ;;
        --eend_baseline) eend_baseline=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
case "${demo_size}" in
    default) train_config=conf/train_demo.yaml eend_opts=() ;;
    tiny) train_config=conf/train_demo_tiny.yaml eend_opts=(--max_epoch 1) ;;
    *) echo "$0: --demo_size must be default or tiny, got '${demo_size}'" >&2; exit 2 ;;
esac
case "${eend_baseline}" in true | false | only) ;;
    *) echo "$0: --eend_baseline must be true, false or only, got '${eend_baseline}'" >&2; exit 2 ;;
esac

[ "${eend_baseline}" = only ] || ./tsdia.sh \
    --train_set train --valid_set dev --test_sets test \
    --local_data_opts "--demo_size ${demo_size} --nj 2" \
    --validate_opts "--global_speakers" \
    --example_opts "--chunk_frames 300 --chunk_hop 150" \
    --nj 2 --inference_nj 2 --num_plots 2 \
    --train_config "${train_config}" \
    --tag "demo_${demo_size}" \
    "${args[@]}"
[ "${eend_baseline}" = false ] ||
    local/eend_baseline.sh --train_set train --valid_set dev --test_sets test --tag "demo_${demo_size}" "${eend_opts[@]}"
