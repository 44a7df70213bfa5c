#!/bin/sh
# Installs (as root) or names (otherwise) the Debian packages unum needs to
# build, test and run its demo.  Quiet when nothing is missing.
PKGS="make gcc libc6-dev pkg-config libuv1-dev libssl-dev libcmocka-dev
libfuse3-dev fuse3 clang libclang-rt-14-dev diod iproute2 procps tmux
util-linux openssh-server openssh-client openssl bc"

missing=""
for p in $PKGS; do
	case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" in
	*"ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "unum: missing packages; as root run:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "unum: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null && apt-get install -y -q$missing >/dev/null ||
	{ echo "unum: apt-get install$missing failed" >&2; exit 1; }
