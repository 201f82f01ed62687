#!/usr/bin/env bash
# Render HTML pages in headless Chromium at 1400 px wide and save screenshots, to check by eye
# that the self-contained pages draw (graph, incidents, tables, timelines) with no network.
# Debian: apt-get install chromium
#
#   scripts/screenshot_report.sh [page.html] [out.png]
#
# Without arguments it builds the demo (tracemap demo), then shoots its report to report.png
# and the timeline of the demo's traced order (tracemap trace ORD-1032 --format html) to
# timeline.png, in the current directory.
set -euo pipefail
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "error: no Chromium found; install it (Debian: apt-get install chromium) and re-run" >&2
  exit 1
fi

shoot() {  # page.html out.png height
  # The flags keep Chromium from reaching for the network (these pages need none); the virtual
  # time budget lets the page's script lay out and draw before the picture is taken.
  "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$(mktemp -d)" --window-size="1400,$3" \
    --virtual-time-budget=5000 --screenshot="$2" "file://$(realpath "$1")" 2> /dev/null
  echo "screenshot of $1 written to $2"
}

if [ -n "${1:-}" ]; then
  shoot "$1" "${2:-report.png}" 3000
  exit 0
fi
tmp="$(mktemp -d)"
tracemap demo --db "$tmp/demo.duckdb" -o "$tmp/tracemap-demo.html" > /dev/null
tracemap trace ORD-1032 --db "$tmp/demo.duckdb" --format html -o "$tmp/timeline.html" 2> /dev/null
shoot "$tmp/tracemap-demo.html" report.png 3200
shoot "$tmp/timeline.html" timeline.png 1500
