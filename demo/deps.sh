#!/usr/bin/env bash
# Install the Debian 12 packages that building and testing teleport need,
# when any is missing. Used by demo/run.sh and .ci/run.
set -euo pipefail

packages=(
  build-essential autoconf automake libtool pkg-config
  libltdl-dev libpq-dev libjansson-dev libcurl4-openssl-dev libyaml-dev
  libmicrohttpd-dev libgnutls28-dev zlib1g-dev libzstd-dev check
  postgresql-15 postgresql-client-15
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
# The tests make their own throwaway clusters: do not create the default one.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  $sudo mkdir -p /etc/postgresql-common
  echo 'create_main_cluster = false' | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
