#!/usr/bin/env bash
# API documentation: converts the DocC catalogue of every library module (Sources/*/*.docc) with the
# toolchain's docc, warnings treated as errors, so a broken symbol link or an undocumented topic fails CI.
# The symbol graphs are extracted from the release build's modules, with each module's own compiler
# search paths (read from SwiftPM's release.yaml), so this needs `swift build -c release` first and no
# build of its own; the archives land in .build/docs/MODULE.doccarchive. swift-docc-plugin gives the
# same pages from a debug build: `swift package generate-documentation --target MODULE`, or
# `swift package --disable-sandbox preview-documentation --target MODULE` to serve one locally.
set -euo pipefail
cd "$(dirname "$0")/.."

manifest=.build/release.yaml
if [ ! -f "$manifest" ]; then
    echo "docs: no release build in .build; run swift build -c release first" >&2
    exit 1
fi
python="${VSEARCH_VENV:-.venv}/bin/python"
[ -x "$python" ] || python=python3
graphs=$(mktemp -d)
trap 'rm -rf "$graphs"' EXIT
mkdir -p .build/docs

modules=()
for catalogue in Sources/*/*.docc; do modules+=("$(basename "$(dirname "$catalogue")")"); done
echo "==> DocC: ${#modules[@]} modules, warnings as errors"
failed=()
for module in "${modules[@]}"; do
    # The search paths, C module maps and target SwiftPM compiled the module with.
    mapfile -t flags < <("$python" - "$manifest" "$module" <<'PY'
import json, re, sys
manifest, module = sys.argv[1], sys.argv[2]
found = re.search(r'"C\.%s-[^"]*-release\.module":.*?\n    args: (\[.*?\])\n' % re.escape(module),
                  open(manifest).read(), re.S)
if not found:
    sys.exit(f"docs: {manifest} has no release compile command for {module}")
args = json.loads(found.group(1))
for i, arg in enumerate(args[:-1]):
    if arg in ("-I", "-F", "-Xcc", "-target", "-module-cache-path"):
        print(arg)
        print(args[i + 1])
PY
    )
    mkdir -p "$graphs/$module"
    if ! swift-symbolgraph-extract -module-name "$module" "${flags[@]}" -minimum-access-level public \
        -output-dir "$graphs/$module"; then
        failed+=("$module (symbol graph)")
        continue
    fi
    if ! docc convert "Sources/$module/$module.docc" --additional-symbol-graph-dir "$graphs/$module" \
        --fallback-display-name "$module" --fallback-bundle-identifier "$module" \
        --output-path ".build/docs/$module.doccarchive" --warnings-as-errors; then
        failed+=("$module")
    fi
done
if ((${#failed[@]})); then
    echo "docs: DocC reported the problems above in ${failed[*]}" >&2
    exit 1
fi
echo "==> DocC: ${#modules[@]} archives in .build/docs"
