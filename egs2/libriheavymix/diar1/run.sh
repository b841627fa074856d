#!/usr/bin/env bash
# LibriheavyMix: train on the small part (100 h, 1-4 speakers), validate on dev_2spk, score the
# six test sets (clean/other x 2-4 speakers) with collar 0, overlap scored, whole-file UEM
# (conf/corpus.yaml says what is unverified). Speaker ids are global (LibriVox readers). Corpus
# root: LIBRIHEAVYMIX in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--condition anechoic"   # the mixtures without reverberation
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=libriheavymix_small
valid_set=libriheavymix_dev_2spk
test_sets="libriheavymix_test_clean_2spk libriheavymix_test_clean_3spk libriheavymix_test_clean_4spk libriheavymix_test_other_2spk libriheavymix_test_other_3spk libriheavymix_test_other_4spk"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --validate_opts "--global_speakers" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
