#!/usr/bin/env bash
# CHiME-6 dinner parties, Kinect array U06 channel 1 (the array the Kaldi track-2 baseline
# diarizes), official split (16 train sessions, dev S02 S09, eval S01 S21), scored as in Kaldi
# track 2 with dscore: collar 0, overlap scored, the track-2 UEM (conf/corpus.yaml). Corpus
# root: CHIME6 in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true --mic worn"   # worn mics mixed (dirs chime6_worn_*)
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=chime6_train
valid_set=chime6_dev
test_sets="chime6_eval"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --local_data_opts "--mic U06 --channel 1" \
    --validate_opts "--global_speakers" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
