#!/usr/bin/env bash
# Makes assets/words/english.txt once (committed; CI never runs this): the lower-case words of
# Debian's wamerican-small (SCOWL), the common-word list the copy guards use to tell an
# ordinary word from a name the model made up. Needs apt (the package is downloaded, not
# installed).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download wamerican-small >/dev/null && dpkg-deb -x wamerican-small_*.deb x)
grep -E '^[a-z]{1,16}$' "$work/x/usr/share/dict/american-english-small" | LC_ALL=C sort -u > assets/words/english.txt
zcat -f "$work/x/usr/share/doc/wamerican-small/copyright" > assets/words/COPYRIGHT-SCOWL
wc -l assets/words/english.txt
