# shellcheck shell=bash
# The data preparation of a corpus recipe: its local/data.sh sets two variables and sources this:
#
#   corpus=ami              # the corpus's name in python -m espnet2_tsdia.bin.prepare_corpus
#   db_variable=AMI         # the db.sh variable holding the corpus root
#   . "$(dirname "$0")/../utils/corpus_data.sh" "$@"
#
# Stages (--stage N --stop_stage M):
#   1 download   prepare_corpus <corpus> download into the root (resumable, checked); --skip_download true skips it
#   2 prepare    prepare_corpus <corpus> prepare: data/<corpus>_<split> dirs and their prep_report.txt
#   3 validate   prepare_corpus <corpus> validate: every dir of stage 2, with the corpus's rules
# Options: the ones below, and the corpus's own (prepare_corpus <corpus> --help), which are read
# from "prepare_corpus <corpus> options" and given to every action. Parsing: utils/parse_options.sh.
set -euo pipefail
_utils=$(dirname "${BASH_SOURCE[0]}")
# shellcheck disable=SC1091
. "${_utils}/log.sh"
: "${corpus:?local/data.sh must set corpus= before sourcing corpus_data.sh}"
: "${db_variable:?local/data.sh must set db_variable= before sourcing corpus_data.sh}"

stage=1                 # first stage: 1 download, 2 prepare, 3 validate
stop_stage=3            # last stage
skip_download=false     # true: the corpus is already under its root
data_dir=data           # where the data dirs go
python=python3          # the Python with espnet2_tsdia installed
_own="corpus db_variable stage stop_stage skip_download data_dir python help_message corpus_opts root opts"

# shellcheck disable=SC1091
if [ -f ./db.sh ]; then . ./db.sh; fi
# shellcheck disable=SC1091
if [ -f ./path.sh ]; then . ./path.sh; fi

# --python before the other options: it lists the corpus's options
_prev=""
for _arg in "$@"; do
    [ "${_prev}" != --python ] || python=${_arg}
    case "${_arg}" in --python=*) python=${_arg#--python=} ;; esac
    _prev=${_arg}
done
_listing=$("${python}" -m espnet2_tsdia.bin.prepare_corpus "${corpus}" options) ||
    die "cannot list the options of corpus '${corpus}' with ${python} (is espnet2_tsdia installed? --python)"

corpus_opts=()
_help=""
while IFS= read -r _line; do  # name<TAB>default<TAB>help (the default may be empty)
    [ -n "${_line}" ] || continue
    _name=${_line%%$'\t'*} _line=${_line#*$'\t'}
    _default=${_line%%$'\t'*} _text=${_line#*$'\t'}
    [[ " ${_own} " != *" ${_name} "* ]] || die "option --${_name} of corpus ${corpus} clashes with corpus_data.sh's own"
    printf -v "${_name}" '%s' "${_default}"
    corpus_opts+=("${_name}")
    _help+=$(printf '\n  --%-24s %-26s %s' "${_name}" "${_default:-''}" "${_text}")
done <<< "${_listing}"

# shellcheck disable=SC2034  # read by utils/parse_options.sh
help_message="Usage: $0 [options]   (${corpus}; corpus root: \${${db_variable}} from db.sh or the environment)
$(awk '/^_own=/ {exit} /^[a-z][a-z_]*=/ {
    name = $1; sub(/=.*/, "", name); val = $1; sub(/^[^=]*=/, "", val); c = index($0, "#")
    printf "  --%-24s %-26s %s\n", name, val, c ? substr($0, c + 2) : "" }' "${BASH_SOURCE[0]}")
Options of ${corpus} (empty: not given), for every stage:${_help}"

# shellcheck disable=SC1091
. "${_utils}/parse_options.sh"
[ $# -eq 0 ] || { log "Error: unexpected arguments: $* (options are --name value)"; exit 2; }
case "${skip_download}" in true | false) ;; *) log "Error: --skip_download must be true or false, got '${skip_download}'"; exit 2 ;; esac

root=${!db_variable:-}
[ -n "${root}" ] ||
    die "${db_variable} is not set. Set ${db_variable} in db.sh (or the environment) to the ${corpus} root, e.g. ${db_variable}=/data/${corpus}; the download stage fills it."

opts=()
for _name in "${corpus_opts[@]}"; do
    [ -z "${!_name}" ] || opts+=("--${_name}" "${!_name}")
done
prepare_corpus() { "${python}" -m espnet2_tsdia.bin.prepare_corpus "${corpus}" "$@" "${opts[@]}"; }

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if [ "${skip_download}" = true ]; then
        log "Stage 1: download skipped (--skip_download true); using ${root}"
    else
        log "Stage 1: downloading ${corpus} into ${root} ${opts[*]}"
        prepare_corpus download --corpus_dir "${root}"
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "Stage 2: preparing the ${corpus} data dirs in ${data_dir} ${opts[*]}"
    prepare_corpus prepare --corpus_dir "${root}" --out_dir "${data_dir}"
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    log "Stage 3: validating the ${corpus} data dirs in ${data_dir}"
    prepare_corpus validate --out_dir "${data_dir}"
fi

log "Successfully finished. [elapsed=${SECONDS}s]"
