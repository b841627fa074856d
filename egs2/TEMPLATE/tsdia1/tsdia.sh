#!/usr/bin/env bash
# Target-speaker diarization stages, from a corpus to a packed model and a DER table.
# Every recipe links this file and calls it from run.sh:
#
#   ./tsdia.sh --train_set ami_train --valid_set ami_dev --test_sets "ami_test" \
#       --train_config conf/train.yaml "$@"
#
# Stages (--stage N --stop_stage M runs N..M; each logs what it did and where):
#   1 data preparation   local/data.sh ${local_data_opts}, then dataset descriptions
#   2 format             data/<set> -> ${dumpdir}/<set> (text files; the audio stays where it
#                        is and the loaders resample it to the standard on read), validated
#   3 examples           target-speaker labels, enrollment specs and chunks for every set
#                        (make_tsdia_examples); stored features of the train/valid sets
#   4 collect stats      feature statistics of the train set (tsdia_train --collect_stats)
#   5 train              tsdia_train through ESPnet's launcher (espnet2.bin.launch): --ngpu N
#                        GPUs per node, --num_nodes M nodes (cmd_backend=slurm; with the local
#                        backend the M nodes are M processes on this machine, --ngpu 0, gloo)
#                        With --tune true, first a hyper-parameter study on the train config's
#                        tuning section (bin.tune), then training with the study's best.yaml
#   6 inference          tsdia_inference on the test sets -> RTTM per set
#                        --enroll_source oracle (the reference's solo regions), first_pass (no
#                        enrollment: clustering of speaker embeddings, then TS-DIA), or both;
#                        the speaker-embedding model is --spk_model, or one trained here first
#                        with --spk_config (espnet2.bin.spk_train on --spk_train_dir); with
#                        --enroll_clips also separate enrollment clips; with --decode_search the
#                        decode options are first chosen on the valid set (tune_decode) and then
#                        used for every test set
#   7 score              DER/JER per test set, with the trivial baselines, and a summary table
#                        (with the first pass: its own rows beside the refined ones)
#   8 pack               a zip of the model, its config and results (pack_model; with a trained
#                        speaker model, that too: the zip then diarizes without enrollment); the
#                        decode options (chosen on the valid set with --decode_search) are packed
#                        as the model's defaults for diarize
# A stage that finished writes a marker holding its settings; a rerun with the same settings
# skips it, changed settings redo it. Resume from any stage with --stage N.
set -euo pipefail

# shellcheck disable=SC1091
. utils/log.sh  # log, die

# ------------------------------------------------------------------------------ options
stage=1                  # first stage to run
stop_stage=8             # last stage to run
nj=4                     # parallel jobs: examples, features, statistics
inference_nj=4           # parallel jobs of inference
ngpu=0                   # GPUs for training, per node (0: CPU; N > 1: N DDP processes)
num_nodes=1              # nodes for training (DDP; > 1 needs cmd_backend=slurm, or local with --ngpu 0)
gpu_inference=false      # run inference on a GPU
train_threads=0          # torch threads of CPU training (0: all cores)
expdir=exp               # experiments
dumpdir=dump             # formatted data dirs and their examples/features
python=python            # the Python of path.sh
local_data_opts=""       # options of local/data.sh
describe=true            # write dataset descriptions after stage 1
validate_opts=""         # options of validate_data_dir in stage 2 (e.g. --global_speakers)
train_set=""             # training set (a dir under data/)
valid_set=""             # validation set
test_sets=""             # sets to decode and score (space separated)
feats_conf=conf/fbank.yaml  # the preprocessing standard
feats_type=fbank         # fbank: stored features; raw: waveforms through the model's frontend
label_scheme=powerset    # label scheme of the examples and of the model
feats_normalize=global_mvn  # normalisation in the model: global_mvn (stats of stage 4), utterance_mvn, none
example_opts=""          # options of make_tsdia_examples (chunks, enrollment), every set
train_config=""          # training yaml
train_args=""            # extra tsdia_train options (override the yaml)
tune=false               # stage 5: true = study (bin.tune) on the config's tuning section, then train its best.yaml; only = the study alone
tune_args=""             # extra bin.tune options (--n_trials N --library raytune --storage URL ...)
tune_dir=""              # study dir (default: ${expdir}/tune_${tag})
tag=""                   # experiment name (default: the train config's name)
tsdia_exp=""             # experiment dir (default: ${expdir}/tsdia_${tag})
stats_dir=""             # statistics dir (default: ${expdir}/tsdia_stats_${feats_type}_${train_set})
inference_config=conf/decode.yaml  # tsdia_inference --config: its options as yaml keys (nested values too)
inference_args=""        # extra tsdia_inference options
inference_model=valid.loss.ave.pth  # model file in the experiment dir
inference_tag=""         # decoding dir name (default: <inference config name>_<model name>)
decode_search=""         # stage 6: grid yaml of decode options to choose on the valid set (bin.tune_decode)
enroll_clips=""          # stage 6: also decode with the clips of data/<test set>/<this scp> (<reco>__<spk> <wav>)
num_plots=0              # timeline/posterior plots of the first N recordings of each inference job
score_opts=""            # tsdia_score options (--collar C --skip_overlap)
baselines=true           # also score "all silence" and "every target always speaking"
packed_model=""          # zip of stage 8 (default: ${tsdia_exp}/${tag}.zip)
# -- first pass (diarization without enrollment): speaker model and decoding (6), scoring (7), packing (8)
enroll_source=oracle     # stage 6 enrollment: oracle, first_pass, or "oracle first_pass"
spk_model=""             # speaker-embedding model of the first pass: spk_train dir, zip or model-zoo tag
spk_config=""            # stage 6: train a speaker-embedding model with this yaml (when --spk_model is empty)
spk_train_dir=""         # its training speakers: wav.scp (a file per utterance) and utt2spk
spk_valid_dir=""         # its validation speakers (verification trials, equal error rate)
spk_exp=""               # its experiment dir (default: ${expdir}/spk_<spk_config name>)
first_pass_opts=""       # tsdia_inference first-pass options (--num_speakers N --iterations 1 ...)

help_message="Usage: $0 --train_set SET --valid_set SET --test_sets 'SET ...' --train_config YAML [options]
Options (name, default, meaning):
$(awk '/^# -+ options/ {f = 1; next} /^help_message=/ {exit} f && match($0, /^[a-z_]+=/) {
    name = substr($0, 1, RLENGTH - 1); rest = substr($0, RLENGTH + 1); c = index(rest, "#")
    val = c ? substr(rest, 1, c - 1) : rest; sub(/ +$/, "", val)
    printf "  --%-18s %-22s %s\n", name, val, c ? substr(rest, c + 2) : "" }' "$0")"

log "$0 $*"
. ./path.sh
. ./cmd.sh
# shellcheck disable=SC1091
. utils/parse_options.sh
[ $# -eq 0 ] || die "unexpected arguments: $* (options are --name value)"

for src in ${enroll_source}; do
    case "${src}" in oracle | first_pass) ;; *) die "--enroll_source must be oracle, first_pass or both, got '${enroll_source}'" ;; esac
done
[ -n "${enroll_source}" ] || die "--enroll_source must be oracle, first_pass or both, got ''"
for v in gpu_inference describe baselines; do
    case "${!v}" in true | false) ;; *) die "--${v} must be true or false, got '${!v}'" ;; esac
done
case "${feats_type}" in fbank | raw) ;; *) die "--feats_type must be fbank or raw, got '${feats_type}'" ;; esac
case "${tune}" in true | false | only) ;; *) die "--tune must be true, false or only, got '${tune}'" ;; esac
case "${feats_normalize}" in global_mvn | utterance_mvn | none) ;;
    *) die "--feats_normalize must be global_mvn, utterance_mvn or none, got '${feats_normalize}'" ;; esac
for v in nj inference_nj ngpu train_threads num_plots stage stop_stage; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "--${v} must be a non-negative integer, got '${!v}'"
done
[[ ${num_nodes} =~ ^[1-9][0-9]*$ ]] || die "--num_nodes must be a positive integer, got '${num_nodes}'"
# Several nodes: ESPnet's launcher submits them with Slurm, recognised by the name slurm.pl;
# the local backend runs the nodes as processes here (CPU only: they would share the GPUs).
cuda_tool=$(basename "${cuda_cmd%% *}")
if [ "${num_nodes}" -gt 1 ]; then
    case "${cuda_tool}" in
        slurm.pl) ;;
        run_local.sh) [ "${ngpu}" -eq 0 ] ||
            die "--num_nodes ${num_nodes} with the local backend runs the nodes on this machine, CPU only (--ngpu 0); for GPUs use --ngpu N on one node or cmd_backend=slurm" ;;
        *) die "--num_nodes ${num_nodes} needs cmd_backend=slurm (cuda_cmd utils/slurm.pl) or the local backend; cuda_cmd is '${cuda_cmd}'" ;;
    esac
fi
[ -n "${train_set}" ] || die "--train_set is required"
[ -n "${valid_set}" ] || die "--valid_set is required"
[ -n "${test_sets}" ] || die "--test_sets is required"
[ -f "${feats_conf}" ] || die "--feats_conf ${feats_conf}: no such file"

if [ -z "${tag}" ]; then
    [ -n "${train_config}" ] && tag=$(basename "${train_config%.*}") || tag=default
fi
tsdia_exp=${tsdia_exp:-${expdir}/tsdia_${tag}}
tune_dir=${tune_dir:-${expdir}/tune_${tag}}
stats_dir=${stats_dir:-${expdir}/tsdia_stats_${feats_type}_${train_set}}
packed_model=${packed_model:-${tsdia_exp}/${tag}.zip}
inference_tag=${inference_tag:-$(basename "${inference_config%.*}")_${inference_model%.pth}}
decode_dir=${tsdia_exp}/${inference_tag}
fp_decode_dir=${decode_dir}_first_pass
if [ -n "${spk_config}" ]; then
    spk_exp=${spk_exp:-${expdir}/spk_$(basename "${spk_config%.*}")}
    [ -n "${spk_model}" ] || spk_model=${spk_exp}
fi
first_pass=false
[[ " ${enroll_source} " != *" first_pass "* ]] || first_pass=true
all_sets=$(printf '%s\n' "${train_set}" "${valid_set}" ${test_sets} | awk '!seen[$0]++' | tr '\n' ' ')
train_sets=$(printf '%s\n' "${train_set}" "${valid_set}" | awk '!seen[$0]++' | tr '\n' ' ')

# ------------------------------------------------------------------------------ helpers
run_stage() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }
# is_done MARKER SETTINGS: the step behind MARKER finished with these settings
is_done() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
mark_done() { mkdir -p "$(dirname "$1")" && printf '%s\n' "$2" > "$1"; }
# fingerprint FILE...: a checksum of the files that exist (a stage's inputs, in its settings)
fingerprint() { for f in "$@"; do [ ! -f "${f}" ] || cat "${f}"; done | cksum | cut -d' ' -f1; }
# train_threads_for PROCS: torch threads of each of PROCS training processes of this machine
# (--train_threads, else the cores shared out; 1 with GPUs). nproc itself obeys
# OMP_NUM_THREADS, which path.sh sets to 1.
train_threads_for() {
    local t=${train_threads}
    if [ "${t}" -eq 0 ]; then
        t=$(($(env -u OMP_NUM_THREADS nproc) / $1))
        [ "${ngpu}" -eq 0 ] && [ "${t}" -ge 1 ] || t=1
    fi
    echo "${t}"
}
# need_tool MODULE: stop clearly when a stage's Python tool is not installed yet
need_tool() {
    "${python}" -c "import importlib.util as u, sys; sys.exit(u.find_spec('$1') is None)" 2> /dev/null ||
        die "not available yet: $1 (python -m $1)"
}
# conf_value FILE KEY: the value of a top-level "KEY: value" line of a flat yaml
conf_value() { awk -v k="$2" '{sub(/[ \t]*#.*/, "")} $1 == k":" {print $2; exit}' "$1"; }
# conf_json FILE: a flat yaml of numbers and true/false as one JSON object
conf_json() {
    awk '{sub(/[ \t]*#.*/, "")} NF == 2 && $1 ~ /:$/ {sub(/:$/, "", $1); s = s (s ? ", " : "") "\"" $1 "\": " $2}
         END {print "{" s "}"}' "$1"
}
grid_opts=(--fs "$(conf_value "${feats_conf}" fs)" --hop_length "$(conf_value "${feats_conf}" hop_length)"
    --subsampling "$(conf_value "${feats_conf}" subsampling)")
# data_opts PREFIX DIR MODE: tsdia_train data options of an example dir (MODE train: random
# enrollment draws; fixed: one enrollment per example)
data_opts() {
    local p=$1 d=$2 fixed=""
    [ "$3" = fixed ] && fixed=_fixed
    if [ "${feats_type}" = fbank ]; then
        echo "--${p}_data_path_and_name_and_type ${d}/chunks,speech,tsdia_feats"
        echo "--${p}_data_path_and_name_and_type ${d}/chunks,enroll,tsdia_enroll_feats${fixed}"
    else
        echo "--${p}_data_path_and_name_and_type ${d}/chunks,speech,tsdia_audio"
        echo "--${p}_data_path_and_name_and_type ${d}/chunks,enroll,tsdia_enroll${fixed}"
        echo "--${p}_data_path_and_name_and_type ${d}/chunks,speech_mean,tsdia_mean"
        echo "--${p}_data_path_and_name_and_type ${d}/chunks,enroll_mean,tsdia_enroll_mean${fixed}"
    fi
    echo "--${p}_data_path_and_name_and_type ${d}/chunks,labels,tsdia_labels"
}
# table_row RESULTS.md NAME: "| NAME | DER | miss | FA | confusion |" from the OVERALL row
table_row() {
    awk -F'|' -v n="$2" '/^\|---/ {getline; printf "| %s | %s | %s | %s | %s |\n", n, $3, $4, $5, $6; exit}' "$1"
}

# ------------------------------------------------------------------------------ stages
if run_stage 1; then
    # The corpus roots of db.sh (as the environment may set them) are inputs of stage 1 too.
    roots=$(. ./db.sh && for v in $(grep -oE '^[A-Z][A-Z0-9_]*=' db.sh | tr -d =); do printf '%s=%s ' "${v}" "${!v}"; done)
    settings="local/data.sh ${local_data_opts} ${roots}input=$(fingerprint local/data.sh)"
    if is_done data/.stage1.done "${settings}"; then
        log "Stage 1: data preparation already done with these options and roots (data/.stage1.done); skipped"
    else
        [ -x local/data.sh ] || die "local/data.sh is missing or not executable"
        log "Stage 1: data preparation: local/data.sh ${local_data_opts}"
        # Shell quoting in the options is kept: --local_data_opts "--splits 'train val'"
        eval "data_opts=(${local_data_opts})"
        local/data.sh "${data_opts[@]}"
        for dset in ${all_sets}; do
            [ -f "data/${dset}/wav.scp" ] || die "local/data.sh did not write data/${dset} (no wav.scp)"
        done
        if [ "${describe}" = true ]; then
            desc=${expdir}/data_description
            log "Stage 1: describing ${all_sets}-> ${desc}"
            # shellcheck disable=SC2046
            "${python}" -m espnet2_tsdia.bin.describe $(printf 'data/%s ' ${all_sets}) \
                --out_dir "${desc}" --name "$(basename "$(dirname "${PWD}")")" --log_level WARNING
        fi
        mark_done data/.stage1.done "${settings}"
    fi
fi

if run_stage 2; then
    for dset in ${all_sets}; do
        src=data/${dset} dst=${dumpdir}/${dset}
        settings="format ${validate_opts} input=$(fingerprint "${src}"/{wav.scp,segments,utt2spk,rttm,uem,reco2dur,mixture.scp})"
        if is_done "${dst}/.format.done" "${settings}"; then
            log "Stage 2: ${dst} already formatted; skipped"
            continue
        fi
        [ -f "${src}/wav.scp" ] || die "${src}: no wav.scp (run stage 1)"
        log "Stage 2: formatting ${src} -> ${dst} (audio read in place, resampled to $(conf_value "${feats_conf}" fs) Hz on load)"
        rm -rf "${dst}"
        mkdir -p "${dst}"
        for f in wav.scp segments utt2spk spk2utt rttm uem reco2dur reco2num_spk mixture.scp; do
            [ ! -f "${src}/${f}" ] || cp "${src}/${f}" "${dst}/${f}"
        done
        # shellcheck disable=SC2086
        "${python}" -m espnet2_tsdia.bin.validate_data_dir --quiet ${validate_opts} "${dst}" > "${dst}/validate.log" 2>&1 ||
            { cat "${dst}/validate.log" >&2; die "${dst} is not a valid data dir (see ${dst}/validate.log)"; }
        log "Stage 2: ${dst}: $(tail -n 1 "${dst}/validate.log")"
        mark_done "${dst}/.format.done" "${settings}"
    done
fi

if run_stage 3; then
    for dset in ${all_sets}; do
        dir=${dumpdir}/${dset} ex=${dumpdir}/${dset}/tsdia
        opts=(--scheme "${label_scheme}" "${grid_opts[@]}")
        [ ! -f "${dir}/mixture.scp" ] || opts+=(--mixture_scp "${dir}/mixture.scp")
        # shellcheck disable=SC2206
        opts+=(${example_opts})
        settings="make_tsdia_examples ${opts[*]} input=$(fingerprint "${dir}/.format.done")"
        if is_done "${ex}/.examples.done" "${settings}"; then
            log "Stage 3: ${ex} already made; skipped"
        else
            [ -f "${dir}/.format.done" ] || die "${dir} is not formatted (run stage 2)"
            log "Stage 3: target-speaker examples of ${dir} -> ${ex}"
            ${train_cmd} "${ex}/log/make_examples.log" "${python}" -m espnet2_tsdia.bin.make_tsdia_examples \
                "${dir}" "${ex}" "${opts[@]}" || die "make_tsdia_examples failed (see ${ex}/log/make_examples.log)"
            log "Stage 3: ${ex}: $(wc -l < "${ex}/examples") examples, $(wc -l < "${ex}/chunks") chunks, $(grep -vc '^#' "${ex}/skipped.txt" || true) speakers skipped (${ex}/skipped.txt)"
            mark_done "${ex}/.examples.done" "${settings}"
            rm -f "${ex}/.feats.done"
        fi
        # Stored features of the train/valid sets (inference reads the waveforms); with
        # --feats_type raw only the per-recording log-mel means the on-the-fly frontend needs.
        [[ " ${train_sets} " == *" ${dset} "* ]] || continue
        fconf=$(conf_json "${feats_conf}")
        fopts=()
        [ "${feats_type}" = fbank ] || fopts=(--mean_only)
        settings="extract_feats ${fconf} ${fopts[*]} input=$(fingerprint "${ex}/.examples.done")"
        if is_done "${ex}/.feats.done" "${settings}"; then
            log "Stage 3: features of ${ex} already extracted; skipped"
            continue
        fi
        n=$(($(wc -l < "${dir}/wav.scp") < nj ? $(wc -l < "${dir}/wav.scp") : nj))
        log "Stage 3: features${fopts:+ (means only)} of ${ex} (${n} jobs; logs ${ex}/log/extract_feats.*.log)"
        ${train_cmd} JOB=0:$((n - 1)) "${ex}/log/extract_feats.JOB.log" "${python}" -m espnet2_tsdia.bin.extract_feats \
            "${ex}" --frontend_conf "${fconf}" --num_parts "${n}" --part JOB "${fopts[@]}" || die "feature extraction failed"
        # one part writes the scp files itself; several write <name>.<part>.scp to be joined
        [ "${n}" -eq 1 ] || "${python}" -m espnet2_tsdia.bin.extract_feats "${ex}" --merge "${n}" "${fopts[@]}" --log_level WARNING
        mark_done "${ex}/.feats.done" "${settings}"
    done
fi

train_ex=${dumpdir}/${train_set}/tsdia
valid_ex=${dumpdir}/${valid_set}/tsdia
if run_stage 4 || run_stage 5; then
    [ -n "${train_config}" ] || die "--train_config is required for stages 4 and 5"
    [ -f "${train_config}" ] || die "--train_config ${train_config}: no such file"
    for ex in "${train_ex}" "${valid_ex}"; do
        [ -f "${ex}/.feats.done" ] || die "${ex} has no features (run stage 3)"
    done
    need_tool espnet2_tsdia.bin.tsdia_train
fi
# raw: the model computes the standard features itself (the train config's frontend is replaced);
# fbank: the model has no frontend, so inference and the packed model take the feature settings
model_opts=() feats_opts=()
if [ "${feats_type}" = fbank ]; then
    feats_opts=(--frontend_conf "${feats_conf}")
else
    model_opts=(--frontend tsdia_fbank --frontend_conf "$(conf_json "${feats_conf}")")
fi
# The tsdia_train options of a training run (data, shapes, normalisation, model, --train_args
# last so they win); stage 5 adds the config, output dir, resume and the distributed options.
# shellcheck disable=SC2046
train_opts=(--label_scheme "${label_scheme}" $(data_opts train "${train_ex}" train) $(data_opts valid "${valid_ex}" fixed)
    --train_shape_file "${train_ex}/chunks.shape" --valid_shape_file "${valid_ex}/chunks.shape"
    --normalize "${feats_normalize}" "${model_opts[@]}")
[ "${feats_normalize}" != global_mvn ] || train_opts+=(--normalize_conf "stats_file=${stats_dir}/train/feats_stats.npz")
# shellcheck disable=SC2206
train_opts+=(${train_args})

if run_stage 4; then
    settings="collect_stats ${feats_type} ${train_args} input=$(fingerprint "${train_config}" "${train_ex}/.feats.done" "${valid_ex}/.feats.done")"
    if is_done "${stats_dir}/.done" "${settings}"; then
        log "Stage 4: statistics in ${stats_dir} already collected; skipped"
    else
        logdir=${stats_dir}/logdir
        rm -rf "${logdir}"
        mkdir -p "${logdir}"
        n=$(($(wc -l < "${train_ex}/chunks.shape") < nj ? $(wc -l < "${train_ex}/chunks.shape") : nj))
        n=$((n < $(wc -l < "${valid_ex}/chunks.shape") ? n : $(wc -l < "${valid_ex}/chunks.shape")))
        for s in train valid; do
            [ "${s}" = train ] && f=${train_ex}/chunks.shape || f=${valid_ex}/chunks.shape
            for ((i = 1; i <= n; i++)); do awk -v n="${n}" -v i="${i}" 'NR % n == i % n' "${f}" > "${logdir}/${s}.${i}.shape"; done
        done
        log "Stage 4: collecting statistics of ${train_ex} (${n} jobs) -> ${stats_dir}; logs ${logdir}/stats.*.log"
        # shellcheck disable=SC2046,SC2086
        ${train_cmd} JOB=1:"${n}" "${logdir}/stats.JOB.log" "${python}" -m espnet2_tsdia.bin.tsdia_train \
            --collect_stats true --config "${train_config}" --ngpu 0 --num_workers 0 --label_scheme "${label_scheme}" \
            --normalize none "${model_opts[@]}" \
            $(data_opts train "${train_ex}" fixed) $(data_opts valid "${valid_ex}" fixed) \
            --train_shape_file "${logdir}/train.JOB.shape" --valid_shape_file "${logdir}/valid.JOB.shape" \
            --output_dir "${logdir}/stats.JOB" ${train_args} || die "collecting statistics failed"
        # shellcheck disable=SC2046
        "${python}" -m espnet2.bin.aggregate_stats_dirs $(printf -- "--input_dir ${logdir}/stats.%d " $(seq "${n}")) \
            --output_dir "${stats_dir}"
        mark_done "${stats_dir}/.done" "${settings}"
    fi
fi

if run_stage 5 && [ "${tune}" != false ]; then
    [ -f "${stats_dir}/.done" ] || die "no statistics in ${stats_dir} (run stage 4)"
    need_tool espnet2_tsdia.bin.tune
    # Each trial is one training run (one GPU or the CPU): locally the study runs the trials
    # itself (--ngpu N > 1: N trials at once, one per GPU); with Slurm each trial is a job.
    topts=()
    if [ "${cuda_tool}" != run_local.sh ]; then
        topts=(--cmd "${cuda_cmd} --gpu $((ngpu > 0 ? 1 : 0))")
    elif [ "${ngpu}" -gt 1 ]; then
        topts=(--gpus "$(seq -s, 0 $((ngpu - 1)))")
    fi
    threads=$(train_threads_for 1)
    mkdir -p "${tune_dir}"
    log "Stage 5: hyper-parameter study of ${train_config}'s tuning section -> ${tune_dir}; log ${tune_dir}/tune.log"
    # shellcheck disable=SC2086
    env OMP_NUM_THREADS="${threads}" MKL_NUM_THREADS="${threads}" "${python}" -m espnet2_tsdia.bin.tune \
        --config "${train_config}" --output_dir "${tune_dir}" "${topts[@]}" ${tune_args} \
        -- --ngpu "$((ngpu > 0 ? 1 : 0))" "${train_opts[@]}" >> "${tune_dir}/tune.log" 2>&1 ||
        { grep -iE 'error' "${tune_dir}/tune.log" | tail -n 20 >&2; die "tuning failed (see ${tune_dir}/tune.log)"; }
    log "Stage 5: study ${tune_dir}/results.md: $(grep -m1 '^- trials:' "${tune_dir}/results.md" | cut -c3-); $(grep -m1 '^- best:' "${tune_dir}/results.md" | cut -c3-)"
    train_config=${tune_dir}/best.yaml
    [ "${tune}" = true ] || log "Stage 5: --tune only: training skipped; train with --train_config ${train_config}"
fi

if run_stage 5 && [ "${tune}" != only ]; then
    settings="train ${feats_type} ${feats_normalize} ${train_args} ngpu=${ngpu} num_nodes=${num_nodes} input=$(fingerprint "${train_config}" "${stats_dir}/.done")"
    if is_done "${tsdia_exp}/.train.done" "${settings}"; then
        log "Stage 5: ${tsdia_exp} already trained; skipped (delete ${tsdia_exp}/.train.done to train again)"
    else
        [ -f "${stats_dir}/.done" ] || die "no statistics in ${stats_dir} (run stage 4)"
        local_nodes=1  # training processes of this machine's CPUs (nodes run locally)
        [ "${num_nodes}" -eq 1 ] || [ "${cuda_tool}" != run_local.sh ] || local_nodes=${num_nodes}
        threads=$(train_threads_for "${local_nodes}")
        # An interrupted training resumes from its checkpoint, but never with other inputs.
        if [ -f "${tsdia_exp}/.train.settings" ] && ! is_done "${tsdia_exp}/.train.settings" "${settings}"; then
            die "${tsdia_exp} was trained with other data or settings; choose another --tag or remove it"
        fi
        mark_done "${tsdia_exp}/.train.settings" "${settings}"
        train=(env OMP_NUM_THREADS="${threads}" MKL_NUM_THREADS="${threads}"
            "${python}" -m espnet2_tsdia.bin.tsdia_train --config "${train_config}" --output_dir "${tsdia_exp}"
            --resume true "${train_opts[@]}")
        if [ "${local_nodes}" -gt 1 ]; then
            # The nodes as processes here, with the options ESPnet's launcher gives each node.
            train_log=${tsdia_exp}/train.0.log
            init_file=$(cd "${tsdia_exp}" && pwd)/.dist_init_$(date +%s%N)_$$
            log "Stage 5: training ${tsdia_exp} with ${train_config} (${num_nodes} nodes as local processes, CPU, gloo, ${threads} threads each); log of rank 0 ${train_log}, of rank N ${tsdia_exp}/train.N.log"
            ${cuda_cmd} --gpu 0 --num_threads "${threads}" JOB=0:$((num_nodes - 1)) "${tsdia_exp}/train.JOB.log" \
                "${train[@]}" --ngpu 0 --multiprocessing_distributed true --dist_rank JOB --dist_world_size "${num_nodes}" \
                --dist_init_method "file://${init_file}" --dist_backend gloo || { rm -f "${init_file}"; die "training failed (see ${train_log})"; }
            rm -f "${init_file}"
        else
            # ESPnet's launcher: one node runs ${cuda_cmd} (--ngpu N > 1: N DDP processes), several
            # nodes one Slurm allocation (utils/slurm.pl) whose srun starts one process per node.
            train_log=${tsdia_exp}/train.log
            log "Stage 5: training ${tsdia_exp} with ${train_config} (${ngpu} GPUs x ${num_nodes} nodes, ${threads} threads); log ${train_log}"
            mkdir -p "${tsdia_exp}"
            "${python}" -m espnet2.bin.launch --cmd "${cuda_cmd} --num_threads ${threads}" --log "${train_log}" \
                --ngpu "${ngpu}" --num_nodes "${num_nodes}" --init_file_prefix "${tsdia_exp}/.dist_init_" \
                --multiprocessing_distributed true -- "${train[@]}" > "${tsdia_exp}/launch.log" 2>&1 ||
                { tail -n 20 "${tsdia_exp}/launch.log" >&2; die "training failed (see ${train_log}; the launcher's output ${tsdia_exp}/launch.log)"; }
        fi
        [ -e "${tsdia_exp}/${inference_model}" ] || die "training wrote no ${tsdia_exp}/${inference_model}"
        mark_done "${tsdia_exp}/.train.done" "${settings}"
        log "Stage 5: trained ${tsdia_exp}/${inference_model}"
    fi
fi

# decode_set DIR OUT [tsdia_inference options...]: tsdia_inference on a formatted set, its jobs'
# outputs merged: hyp.rttm, posteriors.scp and, with the first pass, first_pass.rttm,
# rttm.pass<k> and first_pass_regions.
decode_set() {
    local dir=$1 out=$2
    shift 2
    local settings n f a gpu=0 deps=()
    # an option naming a trained model (speaker model dir) or a file makes it an input too
    for a in "$@"; do
        if [ -f "${a}/.train.done" ]; then deps+=("${a}/.train.done"); elif [ -f "${a}" ]; then deps+=("${a}"); fi
    done
    settings="inference ${feats_opts[*]} ${inference_args} $* input=$(fingerprint "${inference_config}" "${feats_opts[@]:1}" "${dir}/.format.done" "${tsdia_exp}/.train.done" "${tsdia_exp}/${inference_model}" "${deps[@]}")"
    if is_done "${out}/.done" "${settings}"; then
        log "Stage 6: ${out} already decoded; skipped"
        return 0
    fi
    [ -f "${dir}/.format.done" ] || die "${dir} is not formatted (run stage 2)"
    rm -rf "${out}"
    mkdir -p "${out}/logdir"
    n=$(($(wc -l < "${dir}/wav.scp") < inference_nj ? $(wc -l < "${dir}/wav.scp") : inference_nj))
    for ((i = 1; i <= n; i++)); do awk -v n="${n}" -v i="${i}" 'NR % n == i % n' "${dir}/wav.scp" > "${out}/logdir/keys.${i}.scp"; done
    [ "${gpu_inference}" = false ] || gpu=1
    log "Stage 6: inference on ${dir} (${n} jobs${*:+; $*}) -> ${out}; logs ${out}/logdir/inference.*.log"
    # shellcheck disable=SC2086
    ${decode_cmd} --gpu "${gpu}" JOB=1:"${n}" "${out}/logdir/inference.JOB.log" \
        "${python}" -m espnet2_tsdia.bin.tsdia_inference --config "${inference_config}" "${feats_opts[@]}" \
        --train_config "${tsdia_exp}/config.yaml" --model_file "${tsdia_exp}/${inference_model}" --ngpu "${gpu}" \
        --data_path_and_name_and_type "${dir}/wav.scp,speech,sound" \
        --data_path_and_name_and_type "${dir}/rttm,rttm,rttm" --key_file "${out}/logdir/keys.JOB.scp" \
        --output_dir "${out}/logdir/output.JOB" --num_plots "${num_plots}" \
        ${inference_args} "$@" || die "inference failed (see ${out}/logdir)"
    for f in rttm first_pass.rttm $(cd "${out}/logdir/output.1" && ls rttm.pass* 2> /dev/null); do
        [ -f "${out}/logdir/output.1/${f}" ] || continue
        for ((i = 1; i <= n; i++)); do cat "${out}/logdir/output.${i}/${f}"; done | sort -k2,2 -k4,4n > "${out}/${f}"
    done
    mv "${out}/rttm" "${out}/hyp.rttm"
    for f in posteriors.scp first_pass_regions; do
        [ -f "${out}/logdir/output.1/${f}" ] || continue
        for ((i = 1; i <= n; i++)); do cat "${out}/logdir/output.${i}/${f}"; done | sort > "${out}/${f}"
    done
    if [ "${num_plots}" -gt 0 ]; then
        mkdir -p "${out}/plots"
        cp "${out}"/logdir/output.*/plots/* "${out}/plots/" 2> /dev/null || true
    fi
    mark_done "${out}/.done" "${settings}"
    log "Stage 6: ${out}/hyp.rttm: $(wc -l < "${out}/hyp.rttm") turns"
}

# The decode options chosen on the valid set (stage 6) replace the inference config in stages 6-8.
search_dir=${tsdia_exp}/decode_search_${inference_model%.pth}
if [ -n "${decode_search}" ]; then
    [ -f "${decode_search}" ] || die "--decode_search ${decode_search}: no such file"
    if ! run_stage 6 && [ -f "${search_dir}/.done" ]; then inference_config=${search_dir}/best.yaml; fi
fi
if run_stage 6 && [ -n "${decode_search}" ]; then
    need_tool espnet2_tsdia.bin.tsdia_inference
    [ -e "${tsdia_exp}/${inference_model}" ] || die "no model ${tsdia_exp}/${inference_model} (run stage 5)"
    decode_set "${dumpdir}/${valid_set}" "${search_dir}/${valid_set}"
    settings="tune_decode input=$(fingerprint "${decode_search}" "${inference_config}" "${search_dir}/${valid_set}/.done")"
    if is_done "${search_dir}/.done" "${settings}"; then
        log "Stage 6: decode options already chosen on ${valid_set} (${search_dir}/best.yaml); skipped"
    else
        "${python}" -m espnet2_tsdia.bin.tune_decode --posteriors "${search_dir}/${valid_set}/posteriors.scp" \
            --ref "${dumpdir}/${valid_set}/rttm" --grid "${decode_search}" --base_config "${inference_config}" \
            --train_config "${tsdia_exp}/config.yaml" --out_dir "${search_dir}" --log_level WARNING ||
            die "the decode-option search failed"
        mark_done "${search_dir}/.done" "${settings}"
    fi
    log "Stage 6: decode options chosen on ${valid_set}: $(grep -m1 '^- chosen:' "${search_dir}/RESULTS.md" | cut -c3-)"
    inference_config=${search_dir}/best.yaml
fi
if run_stage 6 && [[ " ${enroll_source} " == *" oracle "* ]]; then
    need_tool espnet2_tsdia.bin.tsdia_inference
    [ -e "${tsdia_exp}/${inference_model}" ] || die "no model ${tsdia_exp}/${inference_model} (run stage 5)"
    for dset in ${test_sets}; do
        decode_set "${dumpdir}/${dset}" "${decode_dir}/${dset}"
        if [ -n "${enroll_clips}" ]; then
            [ -f "data/${dset}/${enroll_clips}" ] || die "--enroll_clips: no data/${dset}/${enroll_clips}"
            decode_set "${dumpdir}/${dset}" "${decode_dir}/${dset}_clips" \
                --enrollment clips --data_path_and_name_and_type "data/${dset}/${enroll_clips},enroll,sound"
        fi
    done
fi

# ------------------------------------------------------------------------------ speaker model
# Stage 6, first part: the speaker-embedding model of the first pass (ESPnet's spk task), when
# --spk_config asks for one (the TS-DIA training of stage 5 does not need it).
if run_stage 6 && [ "${first_pass}" = true ] && [ -n "${spk_config}" ] && [ "${spk_model}" = "${spk_exp}" ]; then
    [ -f "${spk_config}" ] || die "--spk_config ${spk_config}: no such file"
    [ -n "${spk_train_dir}" ] && [ -n "${spk_valid_dir}" ] || die "--spk_config needs --spk_train_dir and --spk_valid_dir"
    for d in "${spk_train_dir}" "${spk_valid_dir}"; do
        [ -f "${d}/wav.scp" ] && [ -f "${d}/utt2spk" ] || die "${d}: the speaker model needs wav.scp and utt2spk"
    done
    settings="spk_train input=$(fingerprint "${spk_config}" "${spk_train_dir}"/{wav.scp,utt2spk} "${spk_valid_dir}"/{wav.scp,utt2spk})"
    if is_done "${spk_exp}/.train.done" "${settings}"; then
        log "Stage 6: speaker model ${spk_exp} already trained; skipped"
    else
        if [ -f "${spk_exp}/.train.settings" ] && ! is_done "${spk_exp}/.train.settings" "${settings}"; then
            # a run that saved no checkpoint is started again; a trained one is never mixed
            [ ! -f "${spk_exp}/checkpoint.pth" ] ||
                die "${spk_exp} was trained with other data or settings; remove it or choose another --spk_exp"
            rm -rf "${spk_exp}"
        fi
        mark_done "${spk_exp}/.train.settings" "${settings}"
        fs=$(conf_value "${feats_conf}" fs)
        sdata=${spk_exp}/data
        "${python}" -m espnet2_tsdia.bin.make_spk_data "${spk_train_dir}" "${sdata}/train" --fs "${fs}" --log_level WARNING ||
            die "speaker-model training data: see the message above"
        "${python}" -m espnet2_tsdia.bin.make_spk_data "${spk_valid_dir}" "${sdata}/valid" --fs "${fs}" --trials 300 --log_level WARNING ||
            die "speaker-model validation trials: see the message above"
        threads=$(train_threads_for 1)
        log "Stage 6: speaker model ${spk_exp} with ${spk_config} ($(wc -l < "${sdata}/train/spk2utt") speakers, ${threads} threads); log ${spk_exp}/train.log"
        env OMP_NUM_THREADS="${threads}" MKL_NUM_THREADS="${threads}" "${python}" -m espnet2.bin.spk_train \
            --config "${spk_config}" --output_dir "${spk_exp}" --resume true --ngpu 0 --use_preprocessor true \
            --train_data_path_and_name_and_type "${sdata}/train/wav.scp,speech,sound" \
            --train_data_path_and_name_and_type "${sdata}/train/utt2spk,spk_labels,text" \
            --train_shape_file "${sdata}/train/speech_shape" --spk2utt "${sdata}/train/spk2utt" \
            --spk_num "$(wc -l < "${sdata}/train/spk2utt")" \
            --valid_data_path_and_name_and_type "${sdata}/valid/trial.scp,speech,sound" \
            --valid_data_path_and_name_and_type "${sdata}/valid/trial2.scp,speech2,sound" \
            --valid_data_path_and_name_and_type "${sdata}/valid/trial_label,spk_labels,text" \
            --valid_shape_file "${sdata}/valid/speech_shape" > "${spk_exp}/train.log" 2>&1 ||
            { tail -n 20 "${spk_exp}/train.log" >&2; die "speaker-model training failed (see ${spk_exp}/train.log)"; }
        mark_done "${spk_exp}/.train.done" "${settings}"
        log "Stage 6: speaker model ${spk_exp}: best equal error rate on ${spk_valid_dir} $(grep -o 'valid. eer=[0-9.]*' "${spk_exp}/train.log" | cut -d= -f2 | sort -n | head -n 1) %"
    fi
fi

# Stage 6 without enrollment: the first pass (speaker embeddings + clustering), then TS-DIA.
if run_stage 6 && [ "${first_pass}" = true ]; then
    need_tool espnet2_tsdia.bin.tsdia_inference
    [ -e "${tsdia_exp}/${inference_model}" ] || die "no model ${tsdia_exp}/${inference_model} (run stage 5)"
    [ -n "${spk_model}" ] || die "--enroll_source first_pass needs --spk_model, or --spk_config to train one"
    if [ "${spk_model}" = "${spk_exp}" ] && [ ! -f "${spk_exp}/.train.done" ]; then
        die "no speaker model in ${spk_exp} (stage 6 trains it with --spk_config)"
    fi
    for dset in ${test_sets}; do
        decode_set "${dumpdir}/${dset}" "${fp_decode_dir}/${dset}" --enroll_source first_pass \
            --spk_model "${spk_model}" ${first_pass_opts}
        log "Stage 6: first pass alone ${fp_decode_dir}/${dset}/first_pass.rttm"
    done
fi

if run_stage 7; then
    summary=${tsdia_exp}/RESULTS.md
    {
        echo "# RESULTS of ${tsdia_exp}"
        echo "- model: ${tsdia_exp}/${inference_model}, inference: ${inference_config} ${inference_args}"
        [ -z "${decode_search}" ] || echo "- decode options chosen on ${valid_set} (${search_dir}/RESULTS.md): $(grep -m1 '^- chosen:' "${search_dir}/RESULTS.md" | cut -c11-)"
        echo "- enrollment: oracle regions (the longest solo run of each target in the test recording, at most 5 s)${enroll_clips:+; separate clips: data/<set>/${enroll_clips}}"
        echo "- scoring: tsdia_score ${score_opts:-(collar 0, overlap scored)}; per-recording tables in each score dir"
    } > "${summary}"
    for dset in ${test_sets}; do
        dir=${dumpdir}/${dset} out=${decode_dir}/${dset}
        uem=()
        [ ! -f "${dir}/uem" ] || uem=(--uem "${dir}/uem")
        systems=()
        if [[ " ${enroll_source} " == *" oracle "* ]]; then
            [ -f "${out}/hyp.rttm" ] || die "no ${out}/hyp.rttm (run stage 6)"
            systems+=("model ${out}/hyp.rttm")
            [ -z "${enroll_clips}" ] || systems+=("model, separate clips ${decode_dir}/${dset}_clips/hyp.rttm")
        fi
        if [ "${first_pass}" = true ]; then
            fp=${fp_decode_dir}/${dset}
            [ -f "${fp}/hyp.rttm" ] || die "no ${fp}/hyp.rttm (run stage 6)"
            systems+=("first pass alone ${fp}/first_pass.rttm")
            if [ -f "${fp}/rttm.pass0" ]; then
                systems+=("TS-DIA after the first pass ${fp}/rttm.pass0")
                for f in "${fp}"/rttm.pass*; do
                    k=${f##*.pass}
                    [ "${k}" -eq 0 ] || systems+=("TS-DIA after the first pass, ${k} iteration(s) ${f}")
                done
            else
                systems+=("TS-DIA after the first pass ${fp}/hyp.rttm")
            fi
        fi
        if [ "${baselines}" = true ]; then
            bdir=${out}
            [ -d "${out}" ] || bdir=${fp_decode_dir}/${dset}  # first pass only
            # The target-speaker framing: each target's activity, labelled with its name.
            : > "${bdir}/baseline_silence.rttm"
            awk 'NR == FNR {dur[$1] = $2; next} !seen[$2 " " $8]++ && ($2 in dur) {
                     printf "SPEAKER %s 1 0.000 %.3f <NA> <NA> %s <NA> <NA>\n", $2, dur[$2], $8 }' \
                "${dir}/reco2dur" "${dir}/rttm" > "${bdir}/baseline_always.rttm"
            systems+=("all silence ${bdir}/baseline_silence.rttm" "every target always speaking ${bdir}/baseline_always.rttm")
        fi
        {
            echo
            echo "## ${dset}"
            echo
            echo "| system | DER | miss | FA | confusion |"
            echo "|---|---|---|---|---|"
        } >> "${summary}"
        for sys in "${systems[@]}"; do
            name=${sys% *} hyp=${sys##* }
            sdir=$(dirname "${hyp}")/score_$(basename "${hyp%.rttm}")
            level=WARNING
            [ "${name}" != "all silence" ] || level=ERROR  # it warns that every recording is missing
            # shellcheck disable=SC2086
            "${python}" -m espnet2_tsdia.bin.tsdia_score --ref "${dir}/rttm" --hyp "${hyp}" "${uem[@]}" ${score_opts} \
                --out_dir "${sdir}" --log_level "${level}" || die "scoring ${hyp} failed"
            table_row "${sdir}/RESULTS.md" "${name}" >> "${summary}"
        done
        log "Stage 7: scored ${dset}: $(for sys in "${systems[@]}"; do h=${sys##* }; printf '%s ' "$(dirname "${h}")/score_$(basename "${h%.rttm}")"; done)"
    done
    log "Stage 7: summary ${summary}:"
    cat "${summary}" >&2
fi

if run_stage 8; then
    need_tool espnet2_tsdia.bin.pack_model
    [ -e "${tsdia_exp}/${inference_model}" ] || die "no model ${tsdia_exp}/${inference_model} (run stage 5)"
    log "Stage 8: packing ${tsdia_exp}/${inference_model} -> ${packed_model}"
    opts=()
    [ ! -f "${tsdia_exp}/RESULTS.md" ] || opts+=(--results_md "${tsdia_exp}/RESULTS.md")
    # the speaker model of the first pass goes in too (a trained dir; a zip or zoo tag is not repacked)
    if [ -n "${spk_model}" ] && [ -d "${spk_model}" ]; then
        opts+=(--spk_model "${spk_model}")
    elif [ -n "${spk_model}" ]; then
        log "Stage 8: --spk_model ${spk_model} is not a training dir; the zip gets no speaker model (diarize --spk_model gives it)"
    fi
    "${python}" -m espnet2_tsdia.bin.pack_model --train_config "${tsdia_exp}/config.yaml" "${feats_opts[@]}" \
        --model_file "${tsdia_exp}/${inference_model}" "${opts[@]}" --option "${feats_conf}" \
        --inference_config "${inference_config}" --outpath "${packed_model}" || die "packing failed"
    log "Stage 8: packed ${packed_model} ($(du -h "${packed_model}" | cut -f1))"
fi

log "Successfully finished stages ${stage}-${stop_stage} [elapsed=${SECONDS}s]"
