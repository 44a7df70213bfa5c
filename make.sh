#!/bin/sh
# Build entry point for a fresh Debian machine: installs what is missing
# (as root), then hands over to make.  ./make.sh demo, ./make.sh check.
cd "$(dirname "$0")" || exit 1
sh scripts/deps.sh || exit 1
exec make "$@"
