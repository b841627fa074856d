#!/usr/bin/env bash
# Simulated conversations from VoxCeleb (conf/simu/voxceleb.yaml): training from VoxCeleb2 dev
# (5994 speakers), dev from VoxCeleb2 test, test from VoxCeleb1 test (speakers disjoint across the
# three). VoxCeleb itself is a speaker source, not a diarization test set. Audio is rendered on the
# fly from mixture specs (--feats_type raw). Corpus root: VOXCELEB in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true"   # archives already extracted under the root
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=train
valid_set=dev_ns2_ov5-15
test_sets="test_ns1_ov0 test_ns2_ov0-30 test_ns3_ov0-30 test_ns4_ov0-30"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --validate_opts "--global_speakers" \
    --feats_type raw \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
