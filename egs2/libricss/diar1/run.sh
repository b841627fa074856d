#!/usr/bin/env bash
# LibriCSS: 10 sessions x 6 overlap conditions replayed in a meeting room, channel 0 of the
# 7-channel recording. Session 0 is the dev set (it also adapts the model: LibriCSS has no
# training set; train on simulated LibriSpeech conversations for real systems), sessions 1-9
# are scored per overlap condition, collar 0, overlap scored, whole-file UEM (conf/corpus.yaml).
# Corpus root: LIBRICSS in db.sh.
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # data, format, target-speaker examples
#   ./run.sh --local_data_opts "--skip_download true --audio mix"   # the clean mixture (dirs libricss_mix_*)
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=libricss_dev
valid_set=libricss_dev
test_sets="libricss_eval_0L libricss_eval_0S libricss_eval_OV10 libricss_eval_OV20 libricss_eval_OV30 libricss_eval_OV40"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --local_data_opts "--audio record --channel 0" \
    --validate_opts "--global_speakers" \
    --score_opts "--collar 0.0" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
