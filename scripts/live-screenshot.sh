#!/usr/bin/env bash
# Takes a screenshot of the live view (`mailquake run FILE --live`) in the middle of a
# run, as the README shows it. docs/live-quickstart-naive.png comes from
#
#   scripts/live-screenshot.sh docs/live-quickstart-naive.png scenarios/quickstart-naive.yaml 18
#
# It runs the ignored test `live::live_screenshot` (tests/it/live.rs): the run started
# with `--live` on a free loopback port, its page opened in headless Chromium over the
# DevTools protocol (tests/it/support/cdp.rs), and once the page's clock says AT seconds
# since load start, `Page.captureScreenshot` of the top 1280×2300 px (with the first charts) is written to OUT.
# The run goes on to its end (its output in a temporary folder); its verdict is printed.
# A `--screenshot` from the Chromium command line will not do: the page's event stream
# stays open, so Chromium shoots only once the run is over.
#
# usage: scripts/live-screenshot.sh OUT.png [SCENARIO (quickstart-naive)] [AT_SECONDS (18)]
# Needs cargo and Chromium (Debian's chromium). Exit 0 ok, else the test's failure.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 OUT.png [SCENARIO] [AT_SECONDS]" >&2
    exit 2
fi
out=$(realpath -m "$1")
scenario=$(realpath "${2:-scenarios/quickstart-naive.yaml}")
at=${3:-18}
cd "$(dirname "$0")/.."
MAILQUAKE_SCREENSHOT="$out" MAILQUAKE_SCREENSHOT_SCENARIO="$scenario" MAILQUAKE_SCREENSHOT_AT="$at" \
    cargo test --test it live::live_screenshot -- --ignored --exact --nocapture
