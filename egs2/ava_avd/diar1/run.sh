#!/usr/bin/env bash
# AVA-AVD movie clips (official split), scored as AVR-Net does: collar 0.25 s per side, overlap
# scored, UEM of the derived clip (conf/corpus.yaml). Corpus root: AVA_AVD in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true"   # corpus already under its db.sh root
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=ava_avd_train
valid_set=ava_avd_val
test_sets="ava_avd_test"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --score_opts "--collar 0.25" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
