# shellcheck shell=bash
# The recipe environment: the project's Python (tools/venv), C locale, thread counts.
# Every recipe links this file; the repository root is found from the file's real location
# (egs2/TEMPLATE/tsdia1/path.sh -> ../../..), so a recipe works wherever it is run from.
_tsdia_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)
if [ ! -f "${_tsdia_root}/tools/activate_python.sh" ]; then
    echo "path.sh: ${_tsdia_root}/tools/activate_python.sh is missing: install first with" >&2
    echo "    (cd ${_tsdia_root} && tools/install.sh)" >&2
    return 1 2> /dev/null || exit 1
fi
# shellcheck disable=SC1091
. "${_tsdia_root}/tools/activate_python.sh"
# tools/install.sh installs espnet2_tsdia in editable mode; a Python that cannot find it
# (another environment activated by hand) gets this checkout on its path.
if ! python -c "import importlib.util as u, sys; sys.exit(u.find_spec('espnet2_tsdia') is None)" 2> /dev/null; then
    export PYTHONPATH="${_tsdia_root}${PYTHONPATH:+:${PYTHONPATH}}"
fi
export LC_ALL=C
# One thread per process: stages run several jobs at once. Training sets its own count
# (tsdia.sh --train_threads).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-${OMP_NUM_THREADS}}
export PYTHONIOENCODING=UTF-8
unset _tsdia_root
