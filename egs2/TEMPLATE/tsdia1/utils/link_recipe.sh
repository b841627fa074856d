#!/usr/bin/env bash
# Link a recipe to the template's shared files (relative symlinks), creating or refreshing them.
#
# Usage: egs2/TEMPLATE/tsdia1/utils/link_recipe.sh egs2/<corpus>/diar1 [...]
#
# Shared: tsdia.sh path.sh cmd.sh db.sh, the utils/ folder, and every entry of the template's
# conf/ (the preprocessing standard, decoding, Slurm and training configs). A recipe keeps its
# own run.sh, local/ and conf files under other names; test/recipes/test_template_drift.py
# fails when a shared file is a copy or points elsewhere.
set -euo pipefail
template=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
for recipe in "$@"; do
    [ -d "${recipe}" ] || { echo "link_recipe.sh: no such recipe dir ${recipe}" >&2; exit 1; }
    recipe=$(cd "${recipe}" && pwd)
    rel=$(realpath --relative-to="${recipe}" "${template}")
    mkdir -p "${recipe}/conf"
    for f in tsdia.sh path.sh cmd.sh db.sh utils; do
        ln -sfn "${rel}/${f}" "${recipe}/${f}"
    done
    for f in "${template}"/conf/*; do
        ln -sfn "../${rel}/conf/$(basename "${f}")" "${recipe}/conf/$(basename "${f}")"
    done
    echo "linked ${recipe} -> ${rel}"
done
