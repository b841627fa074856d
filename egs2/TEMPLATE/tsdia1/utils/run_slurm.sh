#!/usr/bin/env bash
# The Slurm job backend of cmd.sh: the same interface as utils/run_local.sh.
#
# Usage: utils/run_slurm.sh [--config conf/slurm.conf] [--gpu N] [--mem M] [--num_threads N] \
#            [--time T] [--max_jobs N] [JOB=FIRST:LAST] LOG COMMAND [ARGS...]
#   utils/run_slurm.sh --config conf/slurm.conf JOB=1:8 exp/log/feats.JOB.log python -m ...
#   utils/run_slurm.sh --config conf/slurm.conf --gpu 1 exp/train.log python -m ...
#
# A job range becomes one job array submitted with "sbatch --wait --array=FIRST-LAST[%MAX]"; a
# single command runs with "srun" (both block until the work is done). The job script is
# written next to the log (q/<name>.sh); it runs in the current directory with the current
# environment, replaces "JOB" by the array index, and writes the log as run_local.sh does.
# sbatch/srun flags come from the config: "default FLAGS" lines apply to every job, and
# "OPTION FLAGS" lines map an option to flags, "{}" standing for its value (a value of 0
# adds nothing: --gpu 0 asks for no GPU).
set -u

config=conf/slurm.conf
max_jobs=0
declare -A given=()
while [ $# -gt 0 ]; do
    case "$1" in
        --config) config=$2; shift 2 ;;
        --max_jobs) max_jobs=$2; shift 2 ;;
        --gpu | --mem | --num_threads | --time) given[${1#--}]=$2; shift 2 ;;
        --*) echo "run_slurm.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done

var="" first="" last=""
if [[ ${1:-} =~ ^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+):([0-9]+)$ ]]; then
    var=${BASH_REMATCH[1]} first=${BASH_REMATCH[2]} last=${BASH_REMATCH[3]}
    shift
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
    echo 'mkdir -p "$(dirname "${log}")"'
    echo '{ echo "# $(printf "%q " "${cmd[@]}")"; echo "# started $(date "+%Y-%m-%d %H:%M:%S") on $(hostname) (Slurm job ${SLURM_JOB_ID:-?})"; } > "${log}"'
    echo '"${cmd[@]}" >> "${log}" 2>&1 < /dev/null'
    echo 'rc=$?'
    echo 'echo "# ended $(date "+%Y-%m-%d %H:%M:%S"), exit status ${rc}" >> "${log}"'
    echo 'exit "${rc}"'
} > "${script}"
chmod +x "${script}"

# ---- submit and wait
if [ -n "${var}" ]; then
    array="${first}-${last}"
    [ "${max_jobs}" -gt 0 ] && array+="%${max_jobs}"
    sbatch --wait --job-name="${name}" --output="${qdir}/${name}.%a.out" --array="${array}" \
        "${flags[@]}" "${script}" > "${qdir}/${name}.sbatch.out" 2>&1
    rc=$?
else
    srun --job-name="${name}" "${flags[@]}" "${script}" > "${qdir}/${name}.srun.out" 2>&1
    rc=$?
fi
if [ "${rc}" != 0 ]; then
    failed=()
    for ((job = ${first:-0}; job <= ${last:-0}; job++)); do
        f=${log}
        [ -n "${var}" ] && f=${log//${var}/${job}}
        tail -n 1 "${f}" 2> /dev/null | grep -q 'exit status 0$' || failed+=("${f}")
    done
    echo "run_slurm.sh: Slurm reported exit status ${rc}; failed: ${failed[*]:-none of the logs} (see ${qdir})" >&2
    [ ${#failed[@]} -gt 0 ] && [ -f "${failed[0]}" ] && tail -n 20 "${failed[0]}" >&2
    exit 1
fi
exit 0
