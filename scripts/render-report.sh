#!/usr/bin/env bash
# Renders a mailquake report.html in headless Chromium and checks that it really draws:
#   1. the DOM Chromium built from the file holds every chart id given (and as many
#      <svg class="chart"> elements as ids, unless --min-charts says otherwise);
#   2. a screenshot (PNG) of the page exists, has the window's size, and is not blank.
#
# usage: scripts/render-report.sh REPORT.html OUT.png [CHART_ID ...]
#   env WIDTH (1280), HEIGHT (2000): the window; FRAGMENT: an anchor to scroll to first
#   (e.g. latency); CHROMIUM: the browser binary (default: chromium on PATH).
#
# Installs nothing: CI (.ci/run) installs Debian's chromium first. Exit 0 ok, 1 a check
# failed, 77 no Chromium found (the conventional "skipped" code).
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 REPORT.html OUT.png [CHART_ID ...]" >&2
    exit 2
fi
report=$(realpath "$1")
out=$2
shift 2
width=${WIDTH:-1280}
height=${HEIGHT:-2000}

browser=${CHROMIUM:-}
if [[ -z "$browser" ]]; then
    for candidate in chromium chromium-browser google-chrome; do
        if command -v "$candidate" >/dev/null 2>&1; then
            browser=$candidate
            break
        fi
    done
fi
if [[ -z "$browser" ]] || ! command -v "$browser" >/dev/null 2>&1; then
    echo "render-report: no Chromium found${browser:+ at $browser} (install Debian's chromium, or set CHROMIUM=…)" >&2
    exit 77
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# Headless, offline, no first-run or background traffic: the page must need nothing.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --hide-scrollbars --user-data-dir="$profile")
url="file://$report${FRAGMENT:+#$FRAGMENT}"

dom=$(timeout 60 "$browser" "${flags[@]}" --dump-dom "$url" 2>/dev/null) || {
    echo "render-report: $browser could not load $url" >&2
    exit 1
}
status=0
charts=$({ grep -o '<svg[^>]*class="chart"' <<<"$dom" || true; } | wc -l)
for id in "$@"; do
    if ! grep -q "<svg id=\"$id\"" <<<"$dom"; then
        echo "render-report: no <svg id=\"$id\"> in the rendered page" >&2
        status=1
    fi
done
if [[ $# -gt 0 && $charts -ne $# ]]; then
    echo "render-report: $charts charts drawn, expected $#" >&2
    status=1
fi

rm -f "$out"
timeout 60 "$browser" "${flags[@]}" --window-size="$width,$height" --screenshot="$out" "$url" \
    >/dev/null 2>&1 || true
python3 - "$out" "$width" "$height" <<'EOF' || status=1
import struct, sys, zlib
path, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    data = open(path, "rb").read()
except OSError as e:
    sys.exit(f"render-report: no screenshot: {e}")
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"render-report: {path} is not a PNG")
w, h = struct.unpack(">II", data[16:24])
if (w, h) != (width, height):
    sys.exit(f"render-report: screenshot is {w}x{h}, expected {width}x{height}")
# A blank page compresses to almost nothing; charts, text and colour do not. Check the
# image data: its compressed size per pixel and how many distinct byte values the
# (filtered) rows hold — a blank or one-colour page has a handful.
chunks, pos = [], 8
while pos + 8 <= len(data):
    (length,) = struct.unpack(">I", data[pos : pos + 4])
    if data[pos + 4 : pos + 8] == b"IDAT":
        chunks.append(data[pos + 8 : pos + 8 + length])
    pos += 12 + length
idat = b"".join(chunks)
raw = zlib.decompress(idat)
distinct = len(set(raw[: 4 * 1024 * 1024]))
bits_per_pixel = 8 * len(idat) / (w * h)
print(f"render-report: {path}: {w}x{h}, {len(data)} bytes, {bits_per_pixel:.2f} bits/pixel, {distinct} distinct byte values")
if bits_per_pixel < 0.05 or distinct < 32:
    sys.exit("render-report: the screenshot looks blank")
EOF
if [[ $status -eq 0 ]]; then
    echo "render-report: ok — $charts charts in the DOM${*:+ (ids: $*)}, screenshot $out"
fi
exit $status
