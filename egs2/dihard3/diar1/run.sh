#!/usr/bin/env bash
# DIHARD III (LDC; dev LDC2022S12 / LDC2020E12, eval LDC2022S14 / LDC2021E02): there is no training
# set, so dev trains (dihard3_dev_train; two recordings per domain held out as dihard3_dev_valid)
# and eval is scored in both conditions, full and core, with the challenge protocol: collar 0,
# overlap scored, the official scoring UEM (conf/corpus.yaml). Corpus root: DIHARD3 in db.sh, the
# folder holding both releases.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # check the releases, data, format, target-speaker examples
#   ./run.sh --local_data_opts "--check_md5 true"   # also verify every file against docs/file.tbl
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=dihard3_dev_train
valid_set=dihard3_dev_valid
test_sets="dihard3_eval_full dihard3_eval_core"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
