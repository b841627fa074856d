# shellcheck shell=bash
# Command-line options for recipe scripts: source this after setting the defaults.
#
#   nj=4; train_set=; help_message="Usage: $0 [options]"
#   . utils/parse_options.sh
#
# "--name value" and "--name=value" set the variable "name" (a dash in the name counts as an
# underscore) when the script has defined it; any other option is an error that prints
# ${help_message}. -h/--help prints it and exits. Parsing stops at the first argument that does
# not start with "--"; it and the rest stay in "$@".
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help)
            echo "${help_message:-$0: no help}"
            exit 0 ;;
        --*=*)
            _opt=${1%%=*} _val=${1#*=}
            shift ;;
        --*)
            if [ $# -lt 2 ]; then
                echo "$0: option $1 needs a value" >&2
                exit 2
            fi
            _opt=$1 _val=$2
            shift 2 ;;
        *) break ;;
    esac
    _opt=${_opt#--}
    _opt=${_opt//-/_}
    # Only lower-case variables the script declared: --PATH or a typo never sets anything.
    if [[ ! ${_opt} =~ ^[a-z][a-z0-9_]*$ ]] || ! declare -p "${_opt}" > /dev/null 2>&1; then
        echo "$0: unknown option --${_opt}" >&2
        echo "${help_message:-}" >&2
        exit 2
    fi
    printf -v "${_opt}" '%s' "${_val}"
done
unset _opt _val
