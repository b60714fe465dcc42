#!/usr/bin/env bash
# adoscale's Azure Pipelines agent container: register, run one job (or up to AZP_MAX_JOBS
# jobs, cleaning the work directory between them), deregister.
#
# The PAT comes from AZP_TOKEN_FILE (preferred) or AZP_TOKEN. It is kept in a shell
# variable that is never exported and both variables are removed from the environment
# before the agent starts, so it is neither reported as a capability nor visible to jobs.
# Nothing here prints it. The agent itself is started in its own process group so that a
# stop signal reaches the listener and its job, not only run.sh.
set -Eeuo pipefail

readonly PROG="start.sh"
# jq programs (jq is part of the image). Kept as constants so the test shim can match them.
readonly TASK_ARN_FILTER='.TaskARN // empty'
readonly CAPABILITIES_FILTER='if type != "object" then error("not a JSON object") else to_entries[] | if (.value | type) != "string" then error("capability \(.key | @json) has a non-string value") elif ((.key + .value) | explode | any(. < 32)) then error("capability \(.key | @json) contains a control character") else "\(.key | @base64):\(.value | @base64)" end end'
# The agent ignores environment variables whose value is this long or longer.
readonly MAX_VALUE_LENGTH=1024

azp_token=""
agent_name=""
agent_pid=""
stop_status=""
registered=0
max_jobs=1
cap_env=()

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

die() {
    log "error: $*"
    exit 2
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# --- environment -------------------------------------------------------------------

read_token() {
    local token
    if [[ -n ${AZP_TOKEN_FILE:-} ]]; then
        [[ -f $AZP_TOKEN_FILE && -r $AZP_TOKEN_FILE ]] ||
            die "AZP_TOKEN_FILE names '$AZP_TOKEN_FILE', which is not a readable file"
        [[ -z ${AZP_TOKEN:-} ]] || log "AZP_TOKEN_FILE is set: ignoring AZP_TOKEN"
        token=$(<"$AZP_TOKEN_FILE")
        token=${token//$'\r'/}
        token=${token#"${token%%[![:space:]]*}"}
        token=${token%"${token##*[![:space:]]}"}
        [[ -n $token ]] || die "AZP_TOKEN_FILE '$AZP_TOKEN_FILE' is empty"
        [[ $token != *[[:space:]]* ]] || die "AZP_TOKEN_FILE '$AZP_TOKEN_FILE' holds more than one word"
    else
        token=$AZP_TOKEN
        [[ $token != *[[:space:]]* ]] || die "AZP_TOKEN contains whitespace"
    fi
    azp_token=$token
    unset AZP_TOKEN AZP_TOKEN_FILE
}

validate_environment() {
    local errors=()
    if [[ -z ${AZP_URL:-} ]]; then
        errors+=("AZP_URL is not set (the organisation URL, https://dev.azure.com/ORG)")
    elif [[ ! $AZP_URL =~ ^https?://[^[:space:]/]+ || $AZP_URL == *[[:space:]]* ]]; then
        errors+=("AZP_URL must be an http(s) URL, got '$AZP_URL'")
    fi
    [[ -n ${AZP_POOL:-} ]] || errors+=("AZP_POOL is not set (the agent pool name)")
    [[ -n ${AZP_TOKEN_FILE:-}${AZP_TOKEN:-} ]] ||
        errors+=("AZP_TOKEN_FILE or AZP_TOKEN must be set (the PAT that registers the agent)")
    case ${AZP_PLACEHOLDER:-} in
        "" | 0 | 1) ;;
        *) errors+=("AZP_PLACEHOLDER must be 1 or 0, got '$AZP_PLACEHOLDER'") ;;
    esac
    if [[ -v AZP_AGENT_NAME && -z $AZP_AGENT_NAME ]]; then
        errors+=("AZP_AGENT_NAME is set but empty")
    fi
    local name
    for name in AZP_STOP_GRACE_SECONDS AZP_REMOVE_RETRY_SECONDS AZP_RELAUNCH_DELAY_SECONDS; do
        if [[ -n ${!name:-} ]] && ! is_uint "${!name}"; then
            errors+=("$name must be a whole number of seconds, got '${!name}'")
        fi
    done
    if [[ -n ${AZP_REMOVE_ATTEMPTS:-} ]] && { ! is_uint "$AZP_REMOVE_ATTEMPTS" || ((AZP_REMOVE_ATTEMPTS < 1)); }; then
        errors+=("AZP_REMOVE_ATTEMPTS must be a whole number from 1, got '$AZP_REMOVE_ATTEMPTS'")
    fi
    for name in config.sh run.sh; do
        [[ -x $AGENT_HOME/$name ]] || errors+=("AGENT_HOME '$AGENT_HOME' has no executable $name")
    done
    if ((${#errors[@]})); then
        for name in "${errors[@]}"; do log "error: $name"; done
        exit 2
    fi
    read_token
}

require_jq() {
    command -v jq >/dev/null || die "jq is needed to read $1 but is not installed"
}

# The ECS task id (last segment of the task ARN) names the agent when AZP_AGENT_NAME is unset.
resolve_agent_name() {
    if [[ -n ${AZP_AGENT_NAME:-} ]]; then
        agent_name=$AZP_AGENT_NAME
        return 0
    fi
    [[ -n ${ECS_CONTAINER_METADATA_URI_V4:-} ]] ||
        die "AZP_AGENT_NAME is not set and ECS_CONTAINER_METADATA_URI_V4 is absent (not on ECS): set AZP_AGENT_NAME"
    require_jq ECS_CONTAINER_METADATA_URI_V4
    local body arn=""
    body=$(curl -fsS --retry 2 --retry-delay 1 --retry-connrefused --max-time 5 \
        "$ECS_CONTAINER_METADATA_URI_V4/task") ||
        die "could not read the task metadata at ECS_CONTAINER_METADATA_URI_V4/task: set AZP_AGENT_NAME or check the endpoint"
    arn=$(jq -r "$TASK_ARN_FILTER" <<<"$body" 2>/dev/null) || arn=""
    [[ $arn =~ ^arn:[^:]+:ecs:[^:]*:[^:]*:task/.+ ]] ||
        die "the task metadata at ECS_CONTAINER_METADATA_URI_V4/task has no TaskARN: set AZP_AGENT_NAME"
    agent_name=${arn##*/}
    log "agent name from the ECS task id: $agent_name"
}

# AZP_CAPABILITIES ({"name": "value", ...}) becomes NAME=VALUE pairs in the environment of
# config.sh and run.sh: the agent reports every environment variable as a capability.
# Names that are not shell identifiers (java.version, maven-3) are passed the same way:
# env(1) sets them and bash hands them on unchanged to the agent it starts.
parse_capabilities() {
    [[ -n ${AZP_CAPABILITIES:-} ]] || return 0
    export -n AZP_CAPABILITIES
    require_jq AZP_CAPABILITIES
    local lines message encoded_name encoded_value name value current
    if ! lines=$(jq -r "$CAPABILITIES_FILTER" <<<"$AZP_CAPABILITIES" 2>&1); then
        message=${lines##*$'\n'}
        message=${message#jq: error (at *): }
        die "AZP_CAPABILITIES must be a JSON object of string values: $message"
    fi
    [[ -n $lines ]] || return 0
    while IFS=: read -r encoded_name encoded_value; do
        [[ -n $encoded_name ]] || die "AZP_CAPABILITIES has an empty capability name"
        name=$(base64 -d <<<"$encoded_name")
        value=$(base64 -d <<<"${encoded_value:-}")
        if [[ ${name,,} == agent.* ]]; then
            log "AZP_CAPABILITIES: skipping '$name': the agent reports Agent.* capabilities itself"
            continue
        fi
        [[ $name != *=* ]] || die "AZP_CAPABILITIES: capability name '$name' contains '='"
        case $name in
            AZP_* | VSTS_AGENT_INPUT_* | VSO_AGENT_IGNORE)
                die "AZP_CAPABILITIES: '$name' is reserved for the agent's own settings"
                ;;
        esac
        ((${#value} < MAX_VALUE_LENGTH)) ||
            die "AZP_CAPABILITIES: the value of '$name' is $MAX_VALUE_LENGTH characters or longer, which the agent ignores"
        if current=$(printenv -- "$name"); then
            [[ $current == "$value" ]] ||
                die "AZP_CAPABILITIES: '$name' is already set in the container's environment to another value"
            continue
        fi
        cap_env+=("$name=$value")
    done <<<"$lines"
    log "capabilities from AZP_CAPABILITIES: ${#cap_env[@]}"
}

# --- signals and the agent's process group -------------------------------------------

stop_agent() {
    [[ -n $agent_pid ]] || return 0
    kill -TERM -- "-$agent_pid" 2>/dev/null || kill -TERM "$agent_pid" 2>/dev/null || true
}

# SIGINT is forwarded as SIGTERM: background processes of a script ignore SIGINT.
# shellcheck disable=SC2329 # invoked by the TERM and INT traps
on_signal() {
    [[ -z $stop_status ]] || return 0
    stop_status=$2
    log "received SIG$1: stopping the agent"
    stop_agent
}

# Wait until every process of the agent's group is gone, so that deregistration does not
# race a job that is still being cancelled; kill what is left after the grace period.
wait_for_group() {
    local pgid=$1 ticks=0 limit=$((${AZP_STOP_GRACE_SECONDS:-20} * 5))
    while kill -0 -- "-$pgid" 2>/dev/null; do
        if ((ticks >= limit)); then
            log "the agent did not stop within ${AZP_STOP_GRACE_SECONDS:-20}s: killing it"
            kill -KILL -- "-$pgid" 2>/dev/null || true
            return 0
        fi
        sleep 0.2
        ticks=$((ticks + 1))
    done
}

# Run run.sh --once in its own process group; returns its exit status.
run_agent() {
    local status=0
    env -- "${cap_env[@]}" setsid ./run.sh --once &
    agent_pid=$!
    [[ -z $stop_status ]] || stop_agent
    while :; do
        if wait "$agent_pid"; then status=0; else status=$?; fi
        [[ -z $stop_status ]] || break
        kill -0 "$agent_pid" 2>/dev/null || break
    done
    if [[ -n $stop_status ]]; then wait_for_group "$agent_pid"; fi
    agent_pid=""
    return "$status"
}

pause() {
    local sleeper
    sleep "$1" &
    sleeper=$!
    wait "$sleeper" || kill "$sleeper" 2>/dev/null || true
}

# --- reusable agents (AZP_MAX_JOBS) -----------------------------------------------------
# The agent has no "N jobs, then exit" mode: run.sh without --once takes jobs until it is
# stopped, so nothing could clean the work directory between jobs or count them. run.sh
# --once, started again, reuses the registration config.sh wrote (the agent's own key and
# settings in AGENT_HOME), so the agent keeps its name and id and the PAT is not needed
# again. Between two runs the listener is offline for a moment: Azure DevOps offers the
# next job only once it is back.

validate_max_jobs() {
    local jobs=${AZP_MAX_JOBS:-1}
    if ! is_uint "$jobs" || ((10#$jobs < 1 || 10#$jobs > 1000)); then
        die "AZP_MAX_JOBS must be a whole number from 1 to 1000, got '$jobs'"
    fi
    max_jobs=$((10#$jobs))
}

# Empty the work directory (sources, artifacts, a job's leftovers) before the next job.
# Refuses a directory that resolves to / or to the agent itself.
clean_work_dir() {
    local work=$AZP_WORK resolved home
    [[ $work == /* ]] || work=$AGENT_HOME/$work
    [[ -d $work ]] || return 0
    resolved=$(cd -- "$work" && pwd -P) || return 1
    home=$(cd -- "$AGENT_HOME" && pwd -P) || return 1
    if [[ $resolved == / || $resolved == "$home" ]]; then
        log "refusing to clean the work directory '$resolved': it is / or the agent itself"
        return 1
    fi
    find "$resolved" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + || return 1
    [[ -z $(find "$resolved" -mindepth 1 -maxdepth 1 -print -quit) ]]
}

# Run up to max_jobs jobs; stop early on a stop signal or when the listener fails (exit
# status other than 0). Returns the last run's status. Exit 4 (the agent updated itself)
# relaunches once per job without counting one.
run_jobs() {
    local job=0 status=0
    while ((job < max_jobs)) && [[ -z $stop_status ]]; do
        if ((job > 0)); then
            if ! clean_work_dir; then
                log "could not clean the work directory: no further job on this agent"
                break
            fi
            [[ -z $stop_status ]] || break
        fi
        job=$((job + 1))
        status=0
        run_agent || status=$?
        if ((status == 4)) && [[ -z $stop_status ]]; then
            log "the agent is updating (exit 4): relaunching once"
            pause "${AZP_RELAUNCH_DELAY_SECONDS:-5}"
            if [[ -z $stop_status ]]; then
                status=0
                run_agent || status=$?
            fi
        fi
        log "run.sh --once exited with status $status (job $job of $max_jobs)"
        ((status == 0)) || break
    done
    return "$status"
}

# --- registration --------------------------------------------------------------------

configure() {
    log "registering agent '$agent_name' in pool '$AZP_POOL' of $AZP_URL"
    env -- "${cap_env[@]}" ./config.sh --unattended --url "$AZP_URL" --auth pat \
        --token "$azp_token" --pool "$AZP_POOL" --agent "$agent_name" \
        --work "$AZP_WORK" --replace --acceptTeeEula
}

# Bounded retries; a failure is logged, never masks the job's status: the reaper deletes
# agents left offline by dead tasks.
deregister() {
    ((registered)) || return 0
    registered=0
    local attempts=${AZP_REMOVE_ATTEMPTS:-5} delay=${AZP_REMOVE_RETRY_SECONDS:-3} attempt status
    for ((attempt = 1; attempt <= attempts; attempt++)); do
        if ./config.sh remove --unattended --auth pat --token "$azp_token"; then
            log "deregistered agent '$agent_name'"
            return 0
        else
            status=$?
        fi
        log "deregistration attempt $attempt of $attempts failed (exit $status)"
        if ((attempt < attempts)); then pause "$delay"; fi
    done
    log "warning: agent '$agent_name' is still registered; the reaper deletes it once it is offline"
}

# shellcheck disable=SC2329 # invoked by the EXIT trap
on_exit() {
    local status=$?
    trap - EXIT
    deregister
    exit "$status"
}

main() {
    AGENT_HOME=${AGENT_HOME:-/azp/agent}
    AZP_WORK=${AZP_WORK:-_work}
    validate_environment
    cd "$AGENT_HOME"
    resolve_agent_name
    parse_capabilities
    export VSO_AGENT_IGNORE="AZP_TOKEN,AZP_TOKEN_FILE,AZP_CAPABILITIES${VSO_AGENT_IGNORE:+,$VSO_AGENT_IGNORE}"

    trap 'on_signal TERM 143' TERM
    trap 'on_signal INT 130' INT
    trap on_exit EXIT

    validate_max_jobs
    local status=0
    configure || status=$?
    if ((status != 0)); then
        log "config.sh failed (exit $status): agent '$agent_name' is not registered"
        exit "$status"
    fi
    if [[ ${AZP_PLACEHOLDER:-} == 1 ]]; then
        log "placeholder agent '$agent_name' registered; it runs no job and stays registered"
        exit "${stop_status:-0}"
    fi
    registered=1

    run_jobs || status=$?
    deregister
    exit "${stop_status:-$status}"
}

main "$@"
