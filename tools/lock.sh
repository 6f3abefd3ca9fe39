#!/usr/bin/env bash
# Re-resolve requirements.in (+ requirements-nodeps.in, without dependencies) into the
# complete lock requirements.txt, in a throw-away environment.
set -euo pipefail
python=${1:-python3.11}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --upgrade pip
"$tmp/venv/bin/pip" install --quiet -r requirements.in
"$tmp/venv/bin/pip" install --quiet --no-deps -r requirements-nodeps.in
{
  sed -n '1,3p' requirements.txt
  "$tmp/venv/bin/pip" freeze --exclude-editable | sed 's/+cpu$//'
} > requirements.txt.new
mv requirements.txt.new requirements.txt
echo "requirements.txt updated; review with git diff"
