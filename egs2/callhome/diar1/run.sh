#!/usr/bin/env bash
# CALLHOME (NIST SRE 2000 disk 8, LDC2001S97), 8 kHz telephone calls: the Kaldi/ESPnet 2-fold
# split; callhome1 trains (callhome1_train; 25 calls held out as callhome1_valid) and callhome2 is
# scored, all calls and the EEND 2-speaker subset, with the EEND papers' protocol: md-eval -c 0.25
# (0.25 s on each side; pyannote collar 0.5), overlap scored (conf/corpus.yaml). Corpus root:
# CALLHOME in db.sh (the LDC disk; the download stage adds the public reference key).
# Usage: ./run.sh [tsdia.sh options], e.g.
#   ./run.sh --stage 1 --stop_stage 3          # key, data, format, target-speaker examples
#   ./run.sh --local_data_opts "--split_lists \${CALLHOME}/lists/but"   # BUT's published split instead
#   ./run.sh --stage 5 --ngpu 1                # resume at training
set -euo pipefail

train_set=callhome1_train
valid_set=callhome1_valid
test_sets="callhome2 callhome2_spk2"
train_config=conf/train_encoder_decoder_softmax.yaml

./tsdia.sh \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --score_opts "--collar 0.25" \
    --example_opts "--chunk_frames 500 --chunk_hop 250" \
    --train_config "${train_config}" \
    "$@"
