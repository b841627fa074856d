#!/usr/bin/env bash
# The Slurm job backend of cmd.sh: the same interface as utils/run_local.sh. utils/slurm.pl is a
# link to this file, so ESPnet's launcher (python -m espnet2.bin.launch --cmd utils/slurm.pl ...)
# recognises the Slurm backend by that name.
#
# Usage: utils/run_slurm.sh [--config conf/slurm.conf] [--gpu N] [--mem M] [--num_threads N] \
#            [--time T] [--num_nodes N] [--max_jobs N] [JOB=FIRST:LAST] LOG COMMAND [ARGS...]
#   utils/run_slurm.sh --config conf/slurm.conf JOB=1:8 exp/log/feats.JOB.log python -m ...
#   utils/run_slurm.sh --config conf/slurm.conf --gpu 1 exp/train.log python -m ...
#   utils/slurm.pl --config conf/slurm.conf --gpu 4 --num_nodes 2 exp/train.log \
#       srun --export=ALL python -m ... --dist_launcher slurm     (ESPnet's launcher, 2 nodes)
#
# How the work is submitted (every case blocks until it is done):
#   JOB=FIRST:LAST   one job array, "sbatch --wait --array=FIRST-LAST[%MAX]"
#   single command   "srun" (one task)
#   COMMAND starting with srun, or --num_nodes N > 1: one "sbatch --wait" allocation (N nodes
#                    with the config's num_nodes line); the job script runs COMMAND once, on the
#                    allocation's first node, and COMMAND's own srun starts its tasks there (one
#                    per node). Running such a command through srun would nest one srun in another.
# The job script is written next to the log (q/<name>.sh), Slurm's own output goes to
# q/<name>.*.out; the script runs in the current directory with the current environment,
# replaces "JOB" by the array index, and writes the log as run_local.sh does, its header naming
# the Slurm job ("(Slurm job N)"). The exit status is 0 only when Slurm reports success and every
# log ends with "exit status 0"; otherwise the failed logs are named (or Slurm's message shown
# when nothing ran). Interrupting this
# script cancels its jobs.
# sbatch/srun flags come from the config: "default FLAGS" lines apply to every job, and
# "OPTION FLAGS" lines map an option to flags, "{}" standing for its value (a value of 0
# adds nothing: --gpu 0 asks for no GPU; --num_nodes 0 or 1 adds nothing either). An option given
# twice counts with its last value (ESPnet's launcher appends its --gpu/--num_threads/--num_nodes
# to the options already in ${cuda_cmd}).
set -u

config=conf/slurm.conf
max_jobs=0
num_nodes=1
declare -A given=()
while [ $# -gt 0 ]; do
    case "$1" in
        --config) config=$2; shift 2 ;;
        --max_jobs) max_jobs=$2; shift 2 ;;
        --num_nodes) num_nodes=$2; shift 2 ;;
        --gpu | --mem | --num_threads | --time) given[${1#--}]=$2; shift 2 ;;
        --*) echo "run_slurm.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
for v in max_jobs num_nodes; do
    if ! [[ ${!v} =~ ^[0-9]+$ ]]; then
        echo "run_slurm.sh: --${v} must be a non-negative integer, got '${!v}'" >&2
        exit 2
    fi
done
[ "${num_nodes}" -le 1 ] || given[num_nodes]=${num_nodes}

var="" first="" last=""
if [[ ${1:-} =~ ^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+):([0-9]+)$ ]]; then
    var=${BASH_REMATCH[1]} first=${BASH_REMATCH[2]} last=${BASH_REMATCH[3]}
    shift
    if [ "${first}" -gt "${last}" ]; then
        echo "run_slurm.sh: empty job range ${var}=${first}:${last}" >&2
        exit 2
    fi
fi
if [ $# -lt 2 ]; then
    echo "usage: run_slurm.sh [options] [JOB=FIRST:LAST] LOG COMMAND [ARGS...]" >&2
    exit 2
fi
log=$1
shift
if [ ! -f "${config}" ]; then
    echo "run_slurm.sh: no Slurm config ${config} (see the template's conf/slurm.conf)" >&2
    exit 2
fi

# ---- flags from the config
flags=()
while read -r key rest; do
    case "${key}" in "" | \#*) continue ;; esac
    rest=${rest%%#*}
    if [ "${key}" = default ]; then
        read -r -a words <<< "${rest}"
        flags+=("${words[@]}")
    elif [ -n "${given[${key}]:-}" ] && [ "${given[${key}]}" != 0 ]; then
        read -r -a words <<< "${rest//\{\}/${given[${key}]}}"
        flags+=("${words[@]}")
        unset "given[${key}]"
    fi
done < "${config}"
for key in "${!given[@]}"; do
    if [ "${given[${key}]}" != 0 ]; then
        echo "run_slurm.sh: --${key} ${given[${key}]} given but ${config} has no '${key}' line" >&2
        exit 2
    fi
done

# ---- the job script
name=$(basename "${log}")
name=${name%.log}
name=${name%.txt}
name=${name//${var:-JOB}/all}
qdir=$(dirname "${log}")/q
mkdir -p "${qdir}" "$(dirname "${log}")"
script=${qdir}/${name}.sh
{
    echo '#!/usr/bin/env bash'
    echo "cd $(printf '%q' "${PWD}")"
    echo "cmd=($(printf '%q ' "$@"))"
    echo "log=$(printf '%q' "${log}")"
    if [ -n "${var}" ]; then
        echo "job=\${SLURM_ARRAY_TASK_ID:?not run as a job array}"
        echo "cmd=(\"\${cmd[@]//${var}/\${job}}\")"
        echo "log=\${log//${var}/\${job}}"
    fi
    # Since Slurm 22.05 srun no longer takes --cpus-per-task from the allocation: pass it on to
    # a COMMAND's own srun, or its tasks get one CPU each.
    echo '[ -z "${SLURM_CPUS_PER_TASK:-}" ] || export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK}'
    echo 'mkdir -p "$(dirname "${log}")"'
    echo '{ echo "# $(printf "%q " "${cmd[@]}")"; echo "# started $(date "+%Y-%m-%d %H:%M:%S") on $(hostname) (Slurm job ${SLURM_JOB_ID:-?})"; } > "${log}"'
    echo '"${cmd[@]}" >> "${log}" 2>&1 < /dev/null'
    echo 'rc=$?'
    echo 'echo "# ended $(date "+%Y-%m-%d %H:%M:%S"), exit status ${rc}" >> "${log}"'
    echo 'exit "${rc}"'
} > "${script}"
chmod +x "${script}"

# ---- submit and wait
if [ -n "${var}" ] || [ "${num_nodes}" -gt 1 ] || [ "$1" = srun ] || [ "$(basename "$1")" = srun ]; then
    submit=sbatch
    out=${qdir}/${name}.sbatch.out
    opts=(--wait --job-name="${name}")
    if [ -n "${var}" ]; then
        array="${first}-${last}"
        [ "${max_jobs}" -gt 0 ] && array+="%${max_jobs}"
        opts+=(--output="${qdir}/${name}.%a.out" --array="${array}")
    else
        opts+=(--output="${qdir}/${name}.out")
    fi
else
    submit=srun
    out=${qdir}/${name}.srun.out
    opts=(--job-name="${name}")
fi
"${submit}" "${opts[@]}" "${flags[@]}" "${script}" > "${out}" 2>&1 < /dev/null &
pid=$!
cancel() {  # on INT/TERM: cancel the submitted job (sbatch --wait alone would leave it queued)
    local id
    id=$(sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' "${out}" 2> /dev/null | head -n 1)
    [ -z "${id}" ] || scancel "${id}" 2> /dev/null
    kill -TERM "${pid}" 2> /dev/null
    wait "${pid}" 2> /dev/null
    echo "run_slurm.sh: interrupted; cancelled ${id:+Slurm job ${id} }${submit} of ${log}" >&2
    exit 130
}
trap cancel INT TERM
wait "${pid}"
rc=$?
trap - INT TERM
# The logs decide, not only Slurm's exit status: "sbatch --wait" reports the highest exit status of
# the array tasks it still finds, and a task that ended MinJobAge seconds (slurm.conf, default
# 300) before the last one is no longer found, so its failure would pass unnoticed.
failed_logs() {  # -> failed (logs not ending with "exit status 0"), unfinished (no exit status)
    local end
    failed=() unfinished=0
    for ((job = ${first:-0}; job <= ${last:-0}; job++)); do
        f=${log}
        [ -n "${var}" ] && f=${log//${var}/${job}}
        end=$(tail -n 1 "${f}" 2> /dev/null)
        [[ ${end} == *"exit status 0" ]] || failed+=("${f}")
        [[ ${end} == *"exit status "* ]] || unfinished=1
    done
}
failed_logs
for _ in 1 2 3 4 5; do  # Slurm says success but a log has no end yet: a shared filesystem may lag
    [ "${rc}" = 0 ] && [ "${unfinished}" = 1 ] || break
    sleep 2
    failed_logs
done
if [ "${rc}" != 0 ] || [ ${#failed[@]} -gt 0 ]; then
    if [ "${rc}" = 0 ]; then
        why="${submit} exited with status 0, but these logs do not end with 'exit status 0'"
    else
        why="${submit} exited with status ${rc}"
    fi
    echo "run_slurm.sh: ${why}; failed: ${failed[*]:-none of the logs} (job script and Slurm output in ${qdir})" >&2
    if [ ${#failed[@]} -gt 0 ] && [ -f "${failed[0]}" ]; then
        echo "---- end of ${failed[0]}:" >&2
        tail -n 20 "${failed[0]}" >&2
    else
        echo "---- ${out}:" >&2
        tail -n 20 "${out}" >&2
    fi
    exit 1
fi
exit 0
