#!/usr/bin/env bash
# The local job backend of cmd.sh: run a command as parallel jobs on this machine.
#
# Usage: utils/run_local.sh [--max_jobs N] [--gpu N --mem M --num_threads N --time T] \
#            [JOB=FIRST:LAST] LOG COMMAND [ARGS...]
#   utils/run_local.sh JOB=1:4 exp/log/stats.JOB.log python -m mytool --part JOB
#   utils/run_local.sh exp/train.log python -m espnet2_tsdia.bin.tsdia_train ...
#
# With JOB=FIRST:LAST every "JOB" in LOG and in the arguments is replaced by the job's index
# and the jobs run in parallel (at most --max_jobs at a time; 0 = all). The command runs as
# given (no shell re-parsing of the arguments). Each log starts with the command and ends with
# "# exit status N". The exit status is 0 only when every job succeeded; otherwise the logs of
# the failed jobs are named and the end of the first one is shown. The resource options of the
# Slurm backend are accepted and ignored, so the stages call both backends alike.
set -u

max_jobs=0
while [ $# -gt 0 ]; do
    case "$1" in
        --max_jobs) max_jobs=$2; shift 2 ;;
        --gpu | --mem | --num_threads | --time) shift 2 ;;
        --*) echo "run_local.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done

var="" first=1 last=1
if [[ ${1:-} =~ ^([A-Za-z_][A-Za-z0-9_]*)=([0-9]+):([0-9]+)$ ]]; then
    var=${BASH_REMATCH[1]} first=${BASH_REMATCH[2]} last=${BASH_REMATCH[3]}
    shift
    if [ "${first}" -gt "${last}" ]; then
        echo "run_local.sh: empty job range ${var}=${first}:${last}" >&2
        exit 2
    fi
fi
if [ $# -lt 2 ]; then
    echo "usage: run_local.sh [options] [JOB=FIRST:LAST] LOG COMMAND [ARGS...]" >&2
    exit 2
fi
log=$1
shift

run_job() {  # run_job INDEX: one job, its output in its log, its status as exit status
    local logf=${log} cmd=("$@") rc
    if [ -n "${var}" ]; then
        logf=${log//${var}/${job}}
        cmd=("${cmd[@]//${var}/${job}}")
    fi
    mkdir -p "$(dirname "${logf}")"
    {
        echo "# $(printf '%q ' "${cmd[@]}")"
        echo "# started $(date '+%Y-%m-%d %H:%M:%S') on $(hostname)"
    } > "${logf}"
    "${cmd[@]}" >> "${logf}" 2>&1 < /dev/null
    rc=$?
    echo "# ended $(date '+%Y-%m-%d %H:%M:%S'), exit status ${rc}" >> "${logf}"
    return "${rc}"
}

status_dir=$(mktemp -d)
trap 'rm -rf "${status_dir}"' EXIT
for ((job = first; job <= last; job++)); do
    if [ "${max_jobs}" -gt 0 ]; then
        while [ "$(jobs -rp | wc -l)" -ge "${max_jobs}" ]; do wait -n; done
    fi
    (run_job "$@"; echo $? > "${status_dir}/${job}") &
done
wait

failed=()
for ((job = first; job <= last; job++)); do
    rc=$(cat "${status_dir}/${job}" 2> /dev/null || echo 1)
    if [ "${rc}" != 0 ]; then
        if [ -n "${var}" ]; then failed+=("${log//${var}/${job}}"); else failed+=("${log}"); fi
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "run_local.sh: $((${#failed[@]}))/$((last - first + 1)) jobs failed: ${failed[*]}" >&2
    echo "---- end of ${failed[0]}:" >&2
    tail -n 20 "${failed[0]}" >&2
    exit 1
fi
exit 0
