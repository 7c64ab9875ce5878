#!/bin/bash
# Build stand-ins for the base images docker-compose.yml and the Dockerfile name (python, postgres,
# redis, nginx), for a machine that reaches Debian's and PyPI's mirrors but not Docker Hub.
# Each is tagged with the official name, so `docker build` and `docker compose` use it as is.
#   bash scripts/offline-images/build.sh      # needs root, debootstrap and a running dockerd
# The base is a Debian rootfs made by debootstrap with this host's CA bundle and apt sources
# (so a mirror or proxy the host trusts works inside the builds too); builds use the host's
# network (--network host), so its name resolution applies.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=commentsvc-offline/debian:bookworm
if ! docker image inspect "$base" >/dev/null 2>&1; then
    rootfs=$(mktemp -d /tmp/commentsvc-rootfs.XXXX)
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" \
        "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    if [ -d /etc/apt/sources.list.d ] && ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
        rm -f "$rootfs/etc/apt/sources.list"
        cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/"
    fi
    tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
fi
build() {  # dockerfile tag
    docker build --quiet --network host -f "$here/$1" -t "$2" "$here" >/dev/null
    echo "built $2 (stand-in, from $1)"
}
build python.Dockerfile python:3.12-slim
build postgres.Dockerfile postgres:17
build redis.Dockerfile redis:7-alpine
build nginx.Dockerfile nginx:1.28-alpine
