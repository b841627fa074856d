#!/usr/bin/env bash
# TED-LIUM 3 (legacy split): single-speaker talks. TED-LIUM is source material (for simulation,
# e.g. simulate --source_dir data/tedlium3_train, and for speaker models), not a diarization test
# set: a model trained here learns one-speaker activity only (conf/corpus.yaml). Corpus root:
# TEDLIUM in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--release 2"   # TED-LIUM 2 (data/tedlium2_*; set the sets too)
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=tedlium3_train
valid_set=tedlium3_dev
test_sets="tedlium3_test"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
