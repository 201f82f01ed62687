#!/usr/bin/env bash
# Render an HTML report in headless Chromium and save a screenshot, to check by eye that the
# self-contained page displays (graph, tables) with no network. Debian: apt-get install chromium
#
#   scripts/screenshot_report.sh [report.html] [out.png]
#
# Without arguments it builds the demo report first (tracemap demo) and shoots that.
set -euo pipefail
report="${1:-}"
png="${2:-report.png}"
if [ -z "$report" ]; then
  tmp="$(mktemp -d)"
  tracemap demo --db "$tmp/demo.duckdb" -o "$tmp/tracemap-demo.html" > /dev/null
  report="$tmp/tracemap-demo.html"
fi
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "error: no Chromium found; install it (Debian: apt-get install chromium) and re-run" >&2
  exit 1
fi
# The flags keep Chromium from reaching for the network (this page needs none).
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$(mktemp -d)" --window-size=1300,2400 \
  --screenshot="$png" "file://$(realpath "$report")" 2> /dev/null
echo "screenshot of $report written to $png"
