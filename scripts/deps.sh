#!/bin/sh
# Install the Debian packages the build, the tests and the demo need, only when
# something is missing (apt-get update once, then one install).
set -e
PKGS="apache2 apache2-dev libcurl4-openssl-dev libjansson-dev libcjose-dev libssl-dev php-cgi
      libcmocka-dev libicu-dev pkg-config python3-pytest python3-requests python3-cryptography
      chromium chromium-driver python3-selenium libnss3-tools"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages:$missing (run as root or install them)" >&2
    exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
