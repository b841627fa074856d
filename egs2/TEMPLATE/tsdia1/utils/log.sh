# shellcheck shell=bash
# The recipes' one logger, sourced by tsdia.sh, every local/data.sh and utils/corpus_data.sh:
#
#   . utils/log.sh      (or from a script's own location: . "$(dirname "$0")/../utils/log.sh")
#   log "Stage 1: ..."  # 2025-01-31T12:00:00 (data.sh:42:main) Stage 1: ...   on stderr
#   die "no such file"  # the same line with "Error: ", then exit 1
#
# The place is the caller's: script name, line and function ("main" at the top level).

log() {
    printf '%s (%s:%s:%s) %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${BASH_SOURCE[1]##*/}" "${BASH_LINENO[0]}" \
        "${FUNCNAME[1]:-main}" "$*" >&2
}

die() {
    printf '%s (%s:%s:%s) Error: %s\n' "$(date '+%Y-%m-%dT%H:%M:%S')" "${BASH_SOURCE[1]##*/}" "${BASH_LINENO[0]}" \
        "${FUNCNAME[1]:-main}" "$*" >&2
    exit 1
}
