#!/usr/bin/env bash
# Vendors the NHS.UK design system for internal/web: fetches the pinned
# nhsuk-frontend tarball from the npm registry, checks it against the
# integrity recorded here, compiles web/nhsuk.scss (the core and the
# components the pages use) with the pinned Dart Sass, and writes the CSS
# and the licence under internal/web/static/. The output is committed, so
# builds need neither npm nor the network; run this only to change version
# or components, and commit what it writes.
set -euo pipefail
cd "$(dirname "$0")/.."

NHSUK_VERSION=10.6.1
NHSUK_INTEGRITY=sha512-PZorqQZjZx/A26yJoskCL9z0ib6AtkAyF0o4K/RHr8zRrJyXrUOCnMbjy0VNXsGO4tfTNMwqlkwATKs4a0xayw==
SASS_VERSION=1.93.2

out=internal/web/static
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "nhsuk-frontend@$NHSUK_VERSION" >/dev/null)
tgz="$work/nhsuk-frontend-$NHSUK_VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$NHSUK_INTEGRITY" ]; then
	echo "nhsuk-frontend-$NHSUK_VERSION.tgz: integrity $got, want $NHSUK_INTEGRITY" >&2
	exit 1
fi
# sass first: npm install prunes packages it did not install.
(cd "$work" && npm install --silent --no-save --no-audit --no-fund "sass@$SASS_VERSION" >/dev/null)
mkdir -p "$work/node_modules/nhsuk-frontend"
tar xzf "$tgz" -C "$work/node_modules/nhsuk-frontend" --strip-components=1

"$work/node_modules/.bin/sass" --style=compressed --no-source-map --quiet-deps --silence-deprecation=import \
	--load-path="$work/node_modules" web/nhsuk.scss "$out/nhsuk.css"
{
	echo "nhsuk-frontend $NHSUK_VERSION (https://www.npmjs.com/package/nhsuk-frontend), MIT licence:"
	echo "compiled from web/nhsuk.scss by web/vendor.sh with sass $SASS_VERSION; tarball $NHSUK_INTEGRITY"
	echo
	cat "$work/node_modules/nhsuk-frontend/LICENSE" 2>/dev/null || sed -n '/^## Licence/,$p' "$work/node_modules/nhsuk-frontend/README.md"
} >"$out/NHSUK-LICENCE.txt"
echo "wrote $out/nhsuk.css ($(wc -c <"$out/nhsuk.css") bytes, $(gzip -9c "$out/nhsuk.css" | wc -c) gzipped)"
