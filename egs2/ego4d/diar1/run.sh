#!/usr/bin/env bash
# Ego4D AV diarization (audio only): train on the benchmark's train clips, validate and score on
# val (the test labels are not public), collar 0, overlap scored, whole-clip UEM, as the
# benchmark's pyannote scoring (conf/corpus.yaml). Corpus root: EGO4D in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true --version v1"   # a v1 copy already there
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=ego4d_train
valid_set=ego4d_val
test_sets="ego4d_val"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
