#!/usr/bin/env bash
# Build the agent image for linux/amd64 and linux/arm64 with docker buildx (`make agent-image`).
# PUSH=1 logs in to ECR and pushes to the stack's repository (ECR_REPOSITORY_URL, or the
# `ecr_repository_url` output of the Pulumi stack). docs/agent-image.md lists every variable.
#
# The agent version and checksums default to the ARG values in agent/Dockerfile, the one
# place they are pinned. Prints the image reference on stdout when done. Written for bash 3.2
# as well, so that it also runs with the bash of macOS.
set -euo pipefail

readonly PROG="build.sh"
readonly ECR_URL_PATTERN='^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/[a-z0-9]+([._/-][a-z0-9]+)*$'
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/.." && pwd)

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

die() {
    log "error: $*"
    exit 2
}

dockerfile_default() { sed -n "s/^ARG $1=//p" "$here/Dockerfile" | head -n 1; }

# Version and checksums: an overridden version needs its own checksums, never the defaults.
resolve_agent() {
    local default_version
    default_version=$(dockerfile_default AGENT_VERSION)
    version=${AGENT_VERSION:-$default_version}
    [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "AGENT_VERSION must look like 4.269.0, got '$version'"
    if [[ $version == "$default_version" ]]; then
        sha_x64=${AGENT_SHA256_X64-$(dockerfile_default AGENT_SHA256_X64)}
        sha_arm64=${AGENT_SHA256_ARM64-$(dockerfile_default AGENT_SHA256_ARM64)}
    else
        sha_x64=${AGENT_SHA256_X64:-}
        sha_arm64=${AGENT_SHA256_ARM64:-}
    fi
    sha_x64=$(printf '%s' "$sha_x64" | tr '[:upper:]' '[:lower:]')
    sha_arm64=$(printf '%s' "$sha_arm64" | tr '[:upper:]' '[:lower:]')
    [[ $sha_x64 =~ ^[0-9a-f]{64}$ ]] ||
        die "AGENT_SHA256_X64 must be the SHA-256 of vsts-agent-linux-x64-$version.tar.gz from the release notes (64 hex digits), got '$sha_x64'"
    [[ $sha_arm64 =~ ^[0-9a-f]{64}$ ]] ||
        die "AGENT_SHA256_ARM64 must be the SHA-256 of vsts-agent-linux-arm64-$version.tar.gz from the release notes (64 hex digits), got '$sha_arm64'"
}

resolve_platforms() {
    platforms=${PLATFORMS:-linux/amd64,linux/arm64}
    local platform
    IFS=, read -r -a platform_list <<<"$platforms"
    ((${#platform_list[@]})) || die "PLATFORMS is empty"
    for platform in "${platform_list[@]}"; do
        case $platform in
            linux/amd64 | linux/arm64) ;;
            *) die "PLATFORMS may list linux/amd64 and linux/arm64, got '$platform'" ;;
        esac
    done
}

# vcs_ref: the commit, "-dirty" when the tree has changes; "unknown" outside git.
resolve_revision() {
    vcs_ref=unknown
    short_ref=nogit
    if command -v git >/dev/null && vcs_ref=$(git -C "$repo_root" rev-parse HEAD 2>/dev/null); then
        short_ref=${vcs_ref:0:12}
        if [[ -n $(git -C "$repo_root" status --porcelain 2>/dev/null) ]]; then
            vcs_ref+="-dirty"
            short_ref+="-dirty"
        fi
    else
        vcs_ref=unknown
    fi
}

ecr_repository() {
    local url=${ECR_REPOSITORY_URL:-} source=ECR_REPOSITORY_URL
    if [[ -z $url ]]; then
        source="the Pulumi stack output ecr_repository_url"
        command -v pulumi >/dev/null ||
            die "PUSH=1 needs ECR_REPOSITORY_URL or the pulumi CLI to read the stack output ecr_repository_url"
        local stack_args=()
        [[ -z ${PULUMI_STACK:-} ]] || stack_args=(--stack "$PULUMI_STACK")
        url=$(cd "$repo_root" && pulumi stack output ${stack_args[@]+"${stack_args[@]}"} ecr_repository_url) ||
            die "could not read the stack output ecr_repository_url: set ECR_REPOSITORY_URL or PULUMI_STACK"
    fi
    [[ $url =~ $ECR_URL_PATTERN ]] ||
        die "$source must be an ECR repository URL (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME), got '$url'"
    repository=$url
    region=${BASH_REMATCH[1]}
}

ecr_login() {
    command -v aws >/dev/null || die "PUSH=1 needs the aws CLI to log in to ECR"
    local registry=${repository%%/*}
    log "logging in to $registry"
    aws ecr get-login-password --region "$region" |
        docker login --username AWS --password-stdin "$registry" >/dev/null
}

main() {
    command -v docker >/dev/null || die "docker is needed to build the image"
    docker buildx version >/dev/null 2>&1 || die "docker buildx is needed to build for several platforms"
    case ${PUSH:-} in "" | 0 | 1) ;; *) die "PUSH must be 1 or 0, got '$PUSH'" ;; esac
    case ${LOAD:-} in "" | 0 | 1) ;; *) die "LOAD must be 1 or 0, got '$LOAD'" ;; esac
    resolve_agent
    resolve_platforms
    resolve_revision
    local tag=${IMAGE_TAG:-$version-$short_ref}
    [[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "IMAGE_TAG '$tag' is not a valid image tag"

    local output=()
    if [[ ${PUSH:-} == 1 ]]; then
        ecr_repository
        ecr_login
        output=(--push)
    else
        repository=${IMAGE_REPOSITORY:-adoscale-agent}
        if [[ ${LOAD:-} == 1 ]]; then
            ((${#platform_list[@]} == 1)) || die "LOAD=1 loads one platform into docker: set PLATFORMS=linux/amd64 or linux/arm64"
            output=(--load)
        elif ((${#platform_list[@]} > 1)); then
            log "the multi-platform result stays in the build cache: PUSH=1 publishes it, PLATFORMS=linux/amd64 LOAD=1 loads one platform"
        fi
    fi
    local image=$repository:$tag
    log "building $image (agent $version) for $platforms"
    docker buildx build \
        --file "$here/Dockerfile" \
        --platform "$platforms" \
        --build-arg "AGENT_VERSION=$version" \
        --build-arg "AGENT_SHA256_X64=$sha_x64" \
        --build-arg "AGENT_SHA256_ARM64=$sha_arm64" \
        --build-arg "VCS_REF=$vcs_ref" \
        --build-arg "SOURCE_URL=${SOURCE_URL:-}" \
        --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        --tag "$image" \
        ${output[@]+"${output[@]}"} \
        "$here"
    printf '%s\n' "$image"
}

main "$@"
