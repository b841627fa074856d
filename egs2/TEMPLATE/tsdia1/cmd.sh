# shellcheck shell=bash
# Job backends of the stages, used as ${train_cmd} [--gpu N ...] [JOB=1:N] LOG COMMAND ...
#   cmd_backend=local  jobs run in parallel on this machine (utils/run_local.sh)
#   cmd_backend=slurm  job arrays with "sbatch --wait", single jobs with "srun", multi-node
#                      jobs (--num_nodes N, or a command that starts with srun) with
#                      "sbatch --wait"; utils/slurm.pl (a link to utils/run_slurm.sh, the name
#                      ESPnet's launcher expects), flags from conf/slurm.conf
# Choose here or in the environment: cmd_backend=slurm ./run.sh
cmd_backend=${cmd_backend:-local}
case "${cmd_backend}" in
    local)
        train_cmd="utils/run_local.sh"   # data, features, statistics
        cuda_cmd="utils/run_local.sh"    # training
        decode_cmd="utils/run_local.sh"  # inference
        ;;
    slurm)
        train_cmd="utils/slurm.pl --config conf/slurm.conf"
        cuda_cmd="utils/slurm.pl --config conf/slurm.conf"
        decode_cmd="utils/slurm.pl --config conf/slurm.conf"
        ;;
    *)
        echo "cmd.sh: cmd_backend must be 'local' or 'slurm', got '${cmd_backend}'" >&2
        return 1 2> /dev/null || exit 1
        ;;
esac
export train_cmd cuda_cmd decode_cmd
