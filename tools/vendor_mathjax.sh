#!/usr/bin/env bash
# Re-create _vendor/mathjax from the npm registry (only needed to change the MathJax version; the files are committed,
# so builds and CI never need npm). The book loads es5/tex-svg-full.js: SVG output needs no web fonts and "full"
# bundles every TeX extension, so nothing is fetched at run time except a11y/assistive-mml.js, which the MathJax
# menu loads on start-up (its "assistive MathML" option is on by default).
set -euo pipefail
VERSION="${1:-3.2.2}"
cd "$(dirname "$0")/.."
dest=_vendor/mathjax
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "mathjax@$VERSION" >/dev/null && tar xzf "mathjax-$VERSION.tgz")
rm -rf "$dest/es5" "$dest/LICENSE"
mkdir -p "$dest/es5/a11y"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
cp "$tmp/package/es5/tex-svg-full.js" "$dest/es5/"
cp "$tmp/package/es5/a11y/assistive-mml.js" "$dest/es5/a11y/"
sed -i "s/^MathJax version: .*/MathJax version: $VERSION/" "$dest/README.md"
echo "vendored mathjax@$VERSION into $dest ($(du -sh "$dest" | cut -f1))"
