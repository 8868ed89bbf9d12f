#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Installs the Debian packages storemu needs to build, test and benchmark,
# skipping the ones already installed. Uses sudo when not run as root.

set -eu
pkgs="build-essential pkg-config libglib2.0-dev liburing-dev libpixman-1-dev
      clang clang-format python3 fio qemu-utils valgrind"
missing=
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
