#!/usr/bin/env bash
# AISHELL-4 meetings, first array channel; dev = 18 held-out training sessions (no official dev);
# collar 0, overlap scored, whole-file UEM (conf/corpus.yaml). Corpus root: AISHELL4 in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true"   # corpus already under its db.sh root
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=aishell4_train
valid_set=aishell4_dev
test_sets="aishell4_test"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --local_data_opts "--channel 1" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
