#!/usr/bin/env bash
# The agent task's init container: hand one organisation's PAT to the agent container.
#
# ECS gives this container (and only this one) the PAT of every organisation the stack
# serves, as secrets named AZP_PAT_<ORGANISATION>; the launch step names the organisation
# this task serves in AZP_ORGANIZATION. The PAT is written to AZP_TOKEN_FILE, on a volume
# that lives as long as the task, readable only by the agent's user (AZP_AGENT_UID,
# default 10001; mode 0400 in a 0700 directory the agent owns, so it can delete the file
# once it has read it). Then this container exits 0 and the agent container starts (its
# dependency on this one is SUCCESS). Nothing here prints a PAT; printf is a builtin, so
# no command line ever carries it.
set -Eeuo pipefail

readonly PROG="handover.sh"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

die() {
    log "error: $*"
    exit 2
}

main() {
    local organization=${AZP_ORGANIZATION:-} file=${AZP_TOKEN_FILE:-} uid=${AZP_AGENT_UID:-10001}
    [[ $organization =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,49}$ ]] ||
        die "AZP_ORGANIZATION must name one of the stack's organisations, got '$organization'"
    [[ $file == /*/* && $file != *[[:space:]]* ]] ||
        die "AZP_TOKEN_FILE must be an absolute path in a directory, got '$file'"
    [[ $uid =~ ^[0-9]+$ ]] || die "AZP_AGENT_UID must be a numeric user id, got '$uid'"
    local upper=${organization^^}
    local variable="AZP_PAT_${upper//-/_}"
    [[ -n ${!variable:-} ]] ||
        die "no PAT for organisation '$organization' ($variable is not set): the stack config does not list it"
    if ((EUID != 0)) && [[ $uid != "$EUID" ]]; then
        die "running as user $EUID, which cannot hand a file to user $uid: run as root"
    fi

    local directory=${file%/*} temporary
    umask 0077
    mkdir -p -- "$directory"
    temporary=$(mktemp "$directory/.token.XXXXXX")
    printf '%s' "${!variable}" >"$temporary"
    if ((EUID == 0)); then
        chown -- "$uid:$uid" "$directory" "$temporary"
    fi
    chmod 0700 "$directory"
    chmod 0400 "$temporary"
    mv -f -- "$temporary" "$file"
    log "handed the PAT of '$organization' to user $uid"
}

main "$@"
