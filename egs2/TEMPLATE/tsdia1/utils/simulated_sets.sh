# shellcheck shell=bash
# The simulated sets of a speaker-source recipe (mini_librispeech, voxceleb), sourced by its
# local/data.sh after the options are parsed:
#
#   . "$(dirname "$0")/../utils/simulated_sets.sh"
#   list_simulated_sets        # ${data_dir}/.simu_sets: "<set> <source subset>" per set of ${simu_conf}
#   selected NAME              # the set is one of --sets (every set when --sets is empty)
#   simulate_selected_sets     # stage 3: each selected set from ${data_dir}/source/<subset>
#   verify_selected_sets       # stage 4: each selected set against its targets, then validated
#
# They read the recipe's options: data_dir, simu_conf, sets, nj, num_conversations, noise_dir,
# rir_dir and python; log comes from utils/log.sh.

list_simulated_sets() {
    mkdir -p "${data_dir}"
    "${python}" -m espnet2_tsdia.bin.simulate --list "${simu_conf}" > "${data_dir}/.simu_sets"
}

selected() { [ -z "${sets}" ] || [[ " ${sets} " == *" $1 "* ]]; }

simulate_selected_sets() {
    local name source opts=(--nj "${nj}" --python "${python}")
    [ -z "${num_conversations}" ] || opts+=(--num_conversations "${num_conversations}")
    [ -z "${noise_dir}" ] || opts+=(--noise_dir "${noise_dir}")
    [ -z "${rir_dir}" ] || opts+=(--rir_dir "${rir_dir}")
    while read -r name source; do
        selected "${name}" || continue
        log "Stage 3: simulating ${name} from ${data_dir}/source/${source}"
        "${python}" -m espnet2_tsdia.bin.simulate --set "${name}" --source_dir "${data_dir}/source/${source}" \
            --out_dir "${data_dir}/${name}" "${opts[@]}" "${simu_conf}"
    done < "${data_dir}/.simu_sets"
}

verify_selected_sets() {
    local name source
    while read -r name source; do
        selected "${name}" || continue
        log "Stage 4: checking ${data_dir}/${name} against its targets, and validating it"
        "${python}" -m espnet2_tsdia.bin.simulate --verify "${data_dir}/${name}"
        "${python}" -m espnet2_tsdia.bin.validate_data_dir --quiet --global_speakers "${data_dir}/${name}"
    done < "${data_dir}/.simu_sets"
}
