#!/usr/bin/env bash
# Simulated conversations from mini_librispeech (conf/simu/mini_librispeech.yaml: 20k h of 1-5
# speakers for training, 100 h per speaker count and overlap range for dev/test). Audio is
# rendered on the fly from mixture specs, so training reads waveforms (--feats_type raw).
# Corpus root: MINI_LIBRISPEECH in db.sh (default downloads/).
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true"   # corpus already under its db.sh root
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=train
valid_set=dev_ns2_ov5-15
test_sets="test_ns1_ov0 test_ns2_ov0-5 test_ns2_ov5-15 test_ns2_ov15-30 test_ns3_ov0-5 test_ns3_ov5-15 test_ns3_ov15-30 test_ns4_ov0-5 test_ns4_ov5-15 test_ns4_ov15-30 test_ns5_ov0-5 test_ns5_ov5-15 test_ns5_ov15-30"
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
