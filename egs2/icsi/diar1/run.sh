#!/usr/bin/env bash
# ICSI meetings, headset mix, the Renals & Swietojanski split (dev Bmr021 Bns001; test Bmr013
# Bmr018 Bro021), collar 0, overlap scored, UEM from the transcripts (conf/corpus.yaml).
# Corpus root: ICSI in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true"   # corpus already under its db.sh root
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=icsi_train
valid_set=icsi_dev
test_sets="icsi_test"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --local_data_opts "--mic ihm-mix" \
    --validate_opts "--global_speakers" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
