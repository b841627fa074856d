#!/usr/bin/env bash
# MSDWild: trained on few.train; few.val (the "MSDWild" of published tables) validates and is
# scored, with many.val (3-10 speakers); collar 0, overlap scored, whole-file UEM
# (conf/corpus.yaml). Corpus root: MSDWILD in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true"   # corpus already under its db.sh root
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=msdwild_few_train
valid_set=msdwild_few_val
test_sets="msdwild_few_val msdwild_many_val"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
