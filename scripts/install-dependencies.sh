#!/usr/bin/env bash
# Installs what building and testing Strom needs on a fresh Debian machine with Swift:
# the compression libraries (C), Debian's kcat, etcd-server (the cluster tests) and prometheus (a
# real scrape of the admin listener), chromium and its driver (the console's browser tests), and the Python clients used by the interop tests.
# Idempotent: quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(pkg-config zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev kcat etcd-server prometheus chromium chromium-driver)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing with apt-get: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! python3 -m pip install -q -r Tests/Interop/requirements.txt 2>/tmp/strom-pip.log; then
    cat /tmp/strom-pip.log >&2
    exit 1
fi
