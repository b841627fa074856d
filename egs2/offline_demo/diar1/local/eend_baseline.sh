#!/usr/bin/env bash
# ESPnet's stock EEND as a baseline on the recipe's sets: SA-EEND and EEND-EDA exactly as ESPnet
# 202511 ships them (espnet2.bin.diar_train), trained on the training set TS-DIA trains on with
# the same 345-dim features, decoded on the test sets and scored with tsdia_score's protocol
# (collar 0, overlap scored, the set's UEM when it has one). Needs the data of tsdia.sh stages
# 1-2 (data/<set>, or the formatted ${dumpdir}/<set>); uses the stored features of stage 3
# (${dumpdir}/<set>/tsdia/feats.scp) when they exist, else extracts them here.
#   local/eend_baseline.sh                               # both models, every stage
#   local/eend_baseline.sh --models sa --stage 3         # decode and score SA-EEND again
#   local/eend_baseline.sh --tag demo_default --cpu_budget 644   # the demo's figures (RESULTS.md)
# Stages:
#   1 inputs    features + frame-level labels per recording (eend_baseline prepare): SA-EEND with
#               as many outputs as the most speakers of a training recording; EEND-EDA with each
#               recording's own count, the training set split by count (--multiple_iterator)
#   2 train     python -m espnet2.bin.diar_train; the CPU time of every run is measured
#               (train.time.<n>: "wall_s user_s sys_s") and reported next to the scores. With
#               --cpu_budget S: one epoch, then as many more epochs as the CPU seconds left allow
#               (measured per epoch; the second run resumes from the first's checkpoint)
#   3 decode    eend_baseline decode: SA-EEND with its fixed outputs; EEND-EDA with its own
#               speaker count (decode_estimated) and with the reference count (decode_oracle)
#   4 score     tsdia_score per test set; the summary is ${expdir}/eend_<model>[_<tag>]/RESULTS.md
set -euo pipefail

log() { printf '%s (eend_baseline.sh:%s) %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "${BASH_LINENO[0]}" "$*" >&2; }
die() {
    log "Error: $*"
    exit 1
}

stage=1                  # first stage to run
stop_stage=4             # last stage to run
models="sa eda"          # sa: SA-EEND, eda: EEND-EDA
train_set=train          # training set (data/<set> or ${dumpdir}/<set>)
valid_set=dev            # validation set
test_sets=test           # sets to decode and score (space separated)
dumpdir=dump             # tsdia.sh's formatted sets and example dirs
expdir=exp               # experiments: ${expdir}/eend_<model>[_<tag>], inputs in ${expdir}/eend_inputs
sa_config=conf/eend/sa_eend.yaml    # SA-EEND training yaml
eda_config=conf/eend/eend_eda.yaml  # EEND-EDA training yaml
max_epoch=""             # overrides the yamls' max_epoch
cpu_budget=""            # CPU seconds of training (e.g. TS-DIA's, measured): sets the epochs, not max_epoch
train_args=""            # extra diar_train options, both models (override the yamls)
train_threads=1          # torch threads of training
feats_conf=conf/fbank.yaml          # the preprocessing standard (features of every set)
inference_config=conf/decode.yaml   # threshold, median_filter, min_silence, min_speech
inference_model=valid.loss.ave.pth  # model file of the training dir
score_opts=""            # tsdia_score options (--collar C --skip_overlap)
tag=""                   # experiment name suffix
python=python

help_message="Usage: $0 [options] (see the head of $0)"
. utils/parse_options.sh
. ./path.sh
[ $# -eq 0 ] || die "unexpected arguments: $* (options are --name value)"
for m in ${models}; do
    case "${m}" in sa | eda) ;; *) die "--models takes sa and/or eda, got '${m}'" ;; esac
done
[[ ${train_threads} =~ ^[1-9][0-9]*$ ]] || die "--train_threads must be a positive integer, got '${train_threads}'"
[ -z "${max_epoch}" ] || [[ ${max_epoch} =~ ^[1-9][0-9]*$ ]] || die "--max_epoch must be a positive integer, got '${max_epoch}'"
[ -z "${cpu_budget}" ] || [[ ${cpu_budget} =~ ^[0-9]*[.]?[0-9]+$ && ${cpu_budget} =~ [1-9] ]] ||
    die "--cpu_budget must be a positive number of seconds, got '${cpu_budget}'"
[ -z "${max_epoch}" ] || [ -z "${cpu_budget}" ] || die "give --max_epoch or --cpu_budget, not both"
[ -f "${feats_conf}" ] || die "--feats_conf ${feats_conf}: no such file"

run_stage() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }
is_done() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
mark_done() { mkdir -p "$(dirname "$1")" && printf '%s\n' "$2" > "$1"; }
fingerprint() { for f in "$@"; do [ ! -f "${f}" ] || cat "${f}"; done | cksum | cut -d' ' -f1; }
# set_dir SET: the formatted set when tsdia.sh stage 2 made it, else the prepared data dir
set_dir() {
    if [ -f "${dumpdir}/$1/.format.done" ]; then echo "${dumpdir}/$1"; elif [ -f "data/$1/wav.scp" ]; then echo "data/$1"; else
        die "no data for set '$1': neither ${dumpdir}/$1 (tsdia.sh stage 2) nor data/$1 (stage 1)"
    fi
}
# max_speakers RTTM: the most speakers of one recording
max_speakers() { awk '$1 == "SPEAKER" && !seen[$2 " " $8]++ {n[$2]++} END {m = 0; for (r in n) if (n[r] > m) m = n[r]; print m}' "$1"; }
config_of() { [ "$1" = sa ] && echo "${sa_config}" || echo "${eda_config}"; }
name_of() { [ "$1" = sa ] && echo "SA-EEND" || echo "EEND-EDA"; }
exp_of() { echo "${expdir}/eend_$1${tag:+_${tag}}"; }
modes_of() { [ "$1" = sa ] && echo model || echo "estimated oracle"; }
inputs=${expdir}/eend_inputs
TIMEFORMAT='%R %U %S'
# done_epochs EXP: epochs the training dir has finished
done_epochs() { if [ -L "$1/latest.pth" ]; then readlink "$1/latest.pth" | sed 's/epoch.pth$//'; else echo 0; fi; }
# charge_killed_runs EXP: a training run killed with this script, before it could write its
# time, leaves EXP/train.time.<n>.start (the epochs done when it started); it becomes EXP/train.time.<n>,
# charged the start-up plus the epochs it finished at the first epoch's cost
# (EXP/train.time.<n>.estimated says so)
charge_killed_runs() {
    local exp=$1 f s=0 e1=0
    [ ! -s "${exp}/startup.time" ] || s=$(awk '{print $2 + $3}' "${exp}/startup.time")
    [ ! -s "${exp}/epoch1.time" ] || e1=$(awk '{print $2 + $3}' "${exp}/epoch1.time")
    for f in "${exp}"/train.time.*.start; do
        [ -f "${f}" ] || continue
        awk -v s="${s}" -v e1="${e1}" -v now="$(done_epochs "${exp}")" \
            '{k = now - $1; printf "0 %.3f 0\n", s + (k > 0 && e1 > s ? k * (e1 - s) : 0)}' "${f}" > "${f%.start}"
        touch "${f%.start}.estimated"
        rm "${f}"
        log "Stage 2: ${f%.start}: a killed run, charged $(cut -d' ' -f2 "${f%.start}") CPU s (estimated)"
    done
}
# diar_train EXP CONF OPTION...: one timed training run (resumes from EXP's checkpoint); its
# "wall_s user_s sys_s" (the process and its children) go to the next free EXP/train.time.<n>
# (named in ${last_time})
diar_train() {
    local exp=$1 conf=$2 i
    shift 2
    charge_killed_runs "${exp}"
    for ((i = 1; ; i++)); do [ -f "${exp}/train.time.${i}" ] || break; done
    last_time=${exp}/train.time.${i}
    done_epochs "${exp}" > "${last_time}.start"
    if ! { time env OMP_NUM_THREADS="${train_threads}" MKL_NUM_THREADS="${train_threads}" \
        "${python}" -m espnet2.bin.diar_train --config "${conf}" --output_dir "${exp}" --ngpu 0 \
        --resume true "$@" >> "${exp}/train.log" 2>&1; } 2> "${last_time}"; then
        rm "${last_time}.start"  # measured all the same
        tail -n 20 "${exp}/train.log" >&2
        die "training failed (see ${exp}/train.log)"
    fi
    rm "${last_time}.start"
}
# time_files EXP: the time files of the training runs so far (one per line)
time_files() {
    local f
    for f in "$1"/train.time.[0-9] "$1"/train.time.[0-9][0-9]; do [ ! -s "${f}" ] || echo "${f}"; done
}
# train_time EXP: the training runs' time so far
train_time() {
    local est=""
    ! compgen -G "$1/train.time.*.estimated" > /dev/null || est=" (killed runs estimated)"
    # shellcheck disable=SC2046
    awk -v e="${est}" '{w += $1; c += $2 + $3} END {printf "%.0f s wall, %.0f s CPU%s", w, c, e}' \
        /dev/null $(time_files "$1")
}
train_dir=$(set_dir "${train_set}")
num_spk=$(max_speakers "${train_dir}/rttm")
[ "${num_spk}" -ge 1 ] || die "${train_dir}/rttm has no speaker turns"

if run_stage 1; then
    for m in ${models}; do
        for dset in ${train_set} ${valid_set}; do
            dir=$(set_dir "${dset}") out=${inputs}/${m}/${dset}
            opts=(--rttm "${dir}/rttm" --feats_conf "${feats_conf}")
            if [ -f "${dumpdir}/${dset}/tsdia/.feats.done" ]; then
                opts+=(--feats_scp "${dumpdir}/${dset}/tsdia/feats.scp")
                src=${dumpdir}/${dset}/tsdia/.feats.done
            else
                opts+=(--wav_scp "${dir}/wav.scp")
                src=${dir}/wav.scp
            fi
            if [ "${m}" = sa ]; then opts+=(--num_spk "${num_spk}"); elif [ "${dset}" = "${train_set}" ]; then opts+=(--split_by_num_spk); fi
            settings="prepare ${opts[*]} input=$(fingerprint "${dir}/rttm" "${src}" "${feats_conf}")"
            if is_done "${out}/.done" "${settings}"; then
                log "Stage 1: ${out} already prepared; skipped"
                continue
            fi
            log "Stage 1: $(name_of "${m}") inputs of ${dir} -> ${out}"
            rm -rf "${out}"
            "${python}" -m espnet2_tsdia.bin.eend_baseline prepare "${out}" "${opts[@]}" || die "preparing ${out} failed"
            mark_done "${out}/.done" "${settings}"
        done
    done
fi

if run_stage 2; then
    for m in ${models}; do
        exp=$(exp_of "${m}") conf=$(config_of "${m}")
        [ -f "${conf}" ] || die "${conf}: no such file"
        tr=${inputs}/${m}/${train_set} va=${inputs}/${m}/${valid_set}
        for d in "${tr}" "${va}"; do [ -f "${d}/.done" ] || die "no inputs in ${d} (run stage 1)"; done
        opts=(--valid_data_path_and_name_and_type "${va}/feats.scp,speech,kaldi_ark"
            --valid_data_path_and_name_and_type "${va}/labels.scp,spk_labels,kaldi_ark"
            --valid_shape_file "${va}/speech_shape")
        if [ "${m}" = sa ]; then
            opts+=(--num_spk "${num_spk}" --train_shape_file "${tr}/speech_shape"
                --train_data_path_and_name_and_type "${tr}/feats.scp,speech,kaldi_ark"
                --train_data_path_and_name_and_type "${tr}/labels.scp,spk_labels,kaldi_ark")
        else
            # one split per speaker count; validation one recording per batch (counts differ)
            opts+=(--multiple_iterator true --valid_batch_size 1 --train_shape_file "${tr}/split/speech_shape"
                --train_data_path_and_name_and_type "${tr}/split/feats.scp,speech,kaldi_ark"
                --train_data_path_and_name_and_type "${tr}/split/labels.scp,spk_labels,kaldi_ark")
        fi
        # shellcheck disable=SC2206
        opts+=(${train_args})
        settings="train ${opts[*]} max_epoch=${max_epoch} cpu_budget=${cpu_budget} threads=${train_threads} input=$(fingerprint "${conf}" "${tr}/.done" "${va}/.done")"
        if is_done "${exp}/.train.done" "${settings}"; then
            log "Stage 2: ${exp} already trained; skipped (delete ${exp}/.train.done to train again)"
            continue
        fi
        if [ -f "${exp}/.train.settings" ] && ! is_done "${exp}/.train.settings" "${settings}"; then
            die "${exp} was trained with other inputs or settings; choose another --tag or remove it"
        fi
        mark_done "${exp}/.train.settings" "${settings}"
        log "Stage 2: training $(name_of "${m}") ${exp} with ${conf} (${train_threads} threads${cpu_budget:+, ${cpu_budget} CPU s}); log ${exp}/train.log"
        if [ -z "${cpu_budget}" ]; then
            diar_train "${exp}" "${conf}" ${max_epoch:+--max_epoch "${max_epoch}"} "${opts[@]}"
        else
            # One epoch, then the epochs the rest of the budget pays for at that epoch's cost
            # (less the start-up of a run, measured first by a dry run). A rerun after an
            # interruption counts the CPU time of every run so far (see diar_train).
            if [ ! -s "${exp}/startup.time" ]; then
                mkdir -p "${exp}"
                { time "${python}" -m espnet2.bin.diar_train --config "${conf}" --output_dir "${exp}/dry_run" \
                    --ngpu 0 --dry_run true "${opts[@]}" > "${exp}/dry_run.log" 2>&1; } 2> "${exp}/startup.time" ||
                    die "the dry run failed (see ${exp}/dry_run.log)"
            fi
            if [ "$(done_epochs "${exp}")" -eq 0 ]; then
                diar_train "${exp}" "${conf}" --max_epoch 1 "${opts[@]}"
                cp "${last_time}" "${exp}/epoch1.time"  # the cost of an epoch (and a start-up)
            fi
            charge_killed_runs "${exp}"
            n=$(done_epochs "${exp}")
            # shellcheck disable=SC2046
            epochs=$(awk -v b="${cpu_budget}" -v n="${n}" -v s="$(awk '{print $2 + $3}' "${exp}/startup.time")" \
                -v e1="$(awk '{print $2 + $3}' "${exp}/epoch1.time")" \
                '{used += $2 + $3} END {per = e1 - s; k = per > 0 ? int((b - used - s) / per) : 0; print n + (k > 0 ? k : 0)}' \
                /dev/null $(time_files "${exp}"))
            log "Stage 2: ${n} epoch(s) done; the budget pays for ${epochs} in all"
            [ "${epochs}" -le "${n}" ] || diar_train "${exp}" "${conf}" --max_epoch "${epochs}" "${opts[@]}"
        fi
        [ -e "${exp}/${inference_model}" ] || die "training wrote no ${exp}/${inference_model}"
        mark_done "${exp}/.train.done" "${settings}"
        log "Stage 2: trained ${exp}/${inference_model} in $(train_time "${exp}")"
    done
fi

if run_stage 3; then
    for m in ${models}; do
        exp=$(exp_of "${m}")
        [ -f "${exp}/.train.done" ] || die "${exp} is not trained (run stage 2)"
        for mode in $(modes_of "${m}"); do
            for dset in ${test_sets}; do
                dir=$(set_dir "${dset}") out=${exp}/decode_${mode}/${dset}
                opts=(--num_spk_mode "${mode}")
                [ "${mode}" != oracle ] || opts+=(--reco2num_spk "${out}/ref_num_spk")
                settings="decode ${opts[*]} input=$(fingerprint "${dir}/wav.scp" "${dir}/rttm" "${feats_conf}" "${inference_config}" "${exp}/.train.done" "${exp}/${inference_model}")"
                if is_done "${out}/.done" "${settings}"; then
                    log "Stage 3: ${out} already decoded; skipped"
                    continue
                fi
                rm -rf "${out}"
                mkdir -p "${out}"
                # the reference speakers of each recording (for the oracle count)
                awk '$1 == "SPEAKER" && !seen[$2 " " $8]++ {n[$2]++} END {for (r in n) print r, n[r]}' "${dir}/rttm" |
                    sort > "${out}/ref_num_spk"
                log "Stage 3: decoding ${dir} with $(name_of "${m}") (speakers: ${mode}) -> ${out}"
                "${python}" -m espnet2_tsdia.bin.eend_baseline decode "${out}" --train_config "${exp}/config.yaml" \
                    --model_file "${exp}/${inference_model}" --wav_scp "${dir}/wav.scp" --feats_conf "${feats_conf}" \
                    --decode_config "${inference_config}" "${opts[@]}" > "${out}/decode.log" 2>&1 ||
                    { tail -n 20 "${out}/decode.log" >&2; die "decoding failed (see ${out}/decode.log)"; }
                mark_done "${out}/.done" "${settings}"
                log "Stage 3: ${out}/hyp.rttm: $(wc -l < "${out}/hyp.rttm") turns"
            done
        done
    done
fi

if run_stage 4; then
    for m in ${models}; do
        exp=$(exp_of "${m}") summary=$(exp_of "${m}")/RESULTS.md
        t=$(train_time "${exp}")
        {
            echo "# RESULTS of ${exp}: ESPnet's stock $(name_of "${m}")"
            echo "- model: ${exp}/${inference_model} ($(config_of "${m}")${max_epoch:+, max_epoch ${max_epoch}}${cpu_budget:+, CPU budget ${cpu_budget} s}${train_args:+, ${train_args}}), $(done_epochs "${exp}") epochs on ${train_set} in ${t} (${train_threads} threads)"
            echo "- decoding: ${inference_config} (threshold, median_filter, min_silence, min_speech)"
            echo "- scoring: tsdia_score ${score_opts:-(collar 0, overlap scored)}; per-recording tables in each score dir"
        } > "${summary}"
        for dset in ${test_sets}; do
            dir=$(set_dir "${dset}")
            uem=()
            [ ! -f "${dir}/uem" ] || uem=(--uem "${dir}/uem")
            {
                echo
                echo "## ${dset}"
                echo
                echo "| system | DER | miss | FA | confusion |"
                echo "|---|---|---|---|---|"
            } >> "${summary}"
            for mode in $(modes_of "${m}"); do
                out=${exp}/decode_${mode}/${dset}
                [ -f "${out}/hyp.rttm" ] || die "no ${out}/hyp.rttm (run stage 3)"
                case "${mode}" in
                    model) name="$(name_of "${m}") (${num_spk} outputs)" ;;
                    estimated) name="$(name_of "${m}") (speaker count estimated)" ;;
                    oracle) name="$(name_of "${m}") (oracle speaker count)" ;;
                esac
                # shellcheck disable=SC2086
                "${python}" -m espnet2_tsdia.bin.tsdia_score --ref "${dir}/rttm" --hyp "${out}/hyp.rttm" "${uem[@]}" \
                    ${score_opts} --out_dir "${out}/score" --log_level WARNING || die "scoring ${out}/hyp.rttm failed"
                awk -F'|' -v n="${name}" '/^\|---/ {getline; printf "| %s | %s | %s | %s | %s |\n", n, $3, $4, $5, $6; exit}' \
                    "${out}/score/RESULTS.md" >> "${summary}"
            done
        done
        log "Stage 4: summary ${summary}:"
        cat "${summary}" >&2
    done
fi
log "Successfully finished stages ${stage}-${stop_stage} [elapsed=${SECONDS}s]"
