#!/usr/bin/env bash
# AMI meetings, Mix-Headset (the headset mix), BUT Full-corpus-ASR split, scored with the Full
# protocol: collar 0, overlap scored, BUT UEMs (conf/corpus.yaml). Corpus root: AMI in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true"   # corpus already under its db.sh root
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=ami_train
valid_set=ami_dev
test_sets="ami_test"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --local_data_opts "--stream Mix-Headset" \
    --validate_opts "--global_speakers" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
