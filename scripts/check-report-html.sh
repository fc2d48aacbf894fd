#!/usr/bin/env bash
# Browser check of report.html: builds a tiny `initlab compare` report, renders it in headless
# Chromium (Debian's chromium-headless-shell, installed with apt-get when missing) at a desktop and
# a phone width, and fails when a screenshot is blank, when the page's console shows anything (a
# script error, a blocked network load), when the page made a network request, when its script
# did not run, when hovering a marker shows no tooltip, or when the page or one of its tables
# scrolls sideways (at 1280 pixels and at a phone's 390).
#
#   scripts/check-report-html.sh          the check (CI runs it at the end of .ci/run)
#   scripts/check-report-html.sh --docs   also renders the guide's compare example and saves
#                                         docs/report-html.png and docs/report-html-phone.png
#
# CHROMIUM=/path/to/chromium-headless-shell uses that browser; INITLAB=/path/to/initlab that binary.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

docs=0
case "${1:-}" in
  "") ;;
  --docs) docs=1 ;;
  *) echo "usage: $0 [--docs]" >&2; exit 2 ;;
esac

fail() {
  echo "check-report-html: FAIL: $*" >&2
  exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- the browser -----------------------------------------------------------------------------
find_chromium() {
  local c
  for c in "${CHROMIUM:-}" "$(command -v chromium-headless-shell || true)" \
           /usr/lib/chromium/chromium-headless-shell /usr/lib/chromium/headless_shell; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

if ! chromium=$(find_chromium); then
  echo "check-report-html: chromium-headless-shell not found; installing it with apt-get"
  command -v apt-get >/dev/null 2>&1 ||
    fail "chromium-headless-shell is missing and apt-get is not available to install it: install Debian's chromium-headless-shell package (or point CHROMIUM at a headless Chromium) and run again"
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      fail "chromium-headless-shell is missing and installing it needs root (apt-get install chromium-headless-shell)"
    fi
  fi
  apt_opts=(-o DPkg::Lock::Timeout=120 -o Acquire::Retries=2 -o Acquire::http::Timeout=30)
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 "${sudo[@]}" apt-get "${apt_opts[@]}" update -q </dev/null >"$tmp/apt.log" 2>&1 ||
    fail "apt-get update failed or took over 5 minutes (no package mirror reachable?):"$'\n'"$(tail -5 "$tmp/apt.log")"
  timeout 600 "${sudo[@]}" apt-get "${apt_opts[@]}" install -y -q --no-install-recommends \
      chromium-headless-shell fonts-dejavu-core </dev/null >"$tmp/apt.log" 2>&1 ||
    fail "apt-get install chromium-headless-shell failed or took over 10 minutes:"$'\n'"$(tail -5 "$tmp/apt.log")"
  chromium=$(find_chromium) ||
    fail "chromium-headless-shell was installed but no binary was found (looked in PATH and /usr/lib/chromium/)"
fi
echo "check-report-html: browser $chromium ($(timeout 30 "$chromium" --version 2>/dev/null </dev/null || echo 'version unknown'))"

command -v python3 >/dev/null 2>&1 || fail "python3 is needed to decode the screenshots"

# --- the report ------------------------------------------------------------------------------
if [ -n "${INITLAB:-}" ]; then
  initlab=$INITLAB
else
  make -s build >/dev/null
  initlab=target/release/initlab
fi
[ -x "$initlab" ] || fail "no initlab binary at $initlab"

export OMP_WAIT_POLICY=PASSIVE

# One page rendered: its screenshot at WIDTHxHEIGHT and its DOM after a simulated hover, the
# console and network log of both checked.
#   check_page REPORT_DIR SHOT.png WIDTH HEIGHT
check_page() {
  local dir=$1 shot=$2 width=$3 height=$4
  local url probe_url
  url=$(python3 -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' "$dir/report.html")
  probe_url=${url%/report.html}/.probe.html
  local flags=(--no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-dev-shm-usage
               --force-device-scale-factor=1 --user-data-dir="$tmp/profile"
               --host-resolver-rules="MAP * ~NOTFOUND" --enable-logging=stderr --v=1)
  timeout 90 "$chromium" "${flags[@]}" --window-size="$width,$height" --screenshot="$shot" \
      "$url" >"$tmp/shot.out" 2>"$tmp/shot.err" </dev/null ||
    fail "chromium did not take the screenshot of $dir/report.html (exit $?): $(tail -5 "$tmp/shot.err")"
  [ -s "$shot" ] || fail "chromium wrote no screenshot $shot"

  # The page with a probe after its own script: on load, move the pointer onto the first marker
  # and record what the tooltip says.
  python3 - "$dir/report.html" "$dir/.probe.html" <<'PY'
import sys
page = open(sys.argv[1], encoding="utf-8").read()
probe = """<script>
window.addEventListener('load', function () {
  var r = 'none';
  try {
    var pt = document.querySelector('svg circle.pt');
    var box = pt.getBoundingClientRect();
    pt.dispatchEvent(new PointerEvent('pointermove', {bubbles: true,
      clientX: box.left + box.width / 2, clientY: box.top + box.height / 2}));
    var tip = document.getElementById('tip');
    r = tip.style.display === 'block' ? 'ok:' + tip.textContent : 'hidden';
  } catch (e) { r = 'error:' + e; }
  document.documentElement.setAttribute('data-hover', r);
  // Sideways scrolling: the page itself, and every table's scroll box.
  var fit = 'ok';
  var doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth) {
    fit = 'page ' + doc.scrollWidth + ' > ' + window.innerWidth;
  }
  document.querySelectorAll('.scroll').forEach(function (box, i) {
    if (fit === 'ok' && box.scrollWidth > box.clientWidth + 1) {
      fit = 'table ' + (i + 1) + ' ' + box.scrollWidth + ' > ' + box.clientWidth;
    }
  });
  doc.setAttribute('data-fit', fit + ' at ' + window.innerWidth);
});
</script>
"""
assert page.count("</body>") == 1, "one </body> expected"
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", probe + "</body>"))
PY
  timeout 90 "$chromium" "${flags[@]}" --window-size="$width,$height" --dump-dom \
      "$probe_url" >"$tmp/dom.html" 2>"$tmp/dom.err" </dev/null ||
    fail "chromium could not load $dir/report.html (exit $?): $(tail -5 "$tmp/dom.err")"
  rm -f "$dir/.probe.html"

  # Anything in the console (script errors, refused loads) or any request that is not a file.
  local console network
  console=$(grep -h ':CONSOLE' "$tmp/shot.err" "$tmp/dom.err" || true)
  [ -z "$console" ] || fail "console messages from $dir/report.html:"$'\n'"$console"
  network=$(grep -h 'NotifyBeforeURLRequest' "$tmp/shot.err" "$tmp/dom.err" | grep -v 'NotifyBeforeURLRequest: file:' || true)
  [ -z "$network" ] || fail "network requests from $dir/report.html:"$'\n'"$network"

  grep -q '<html[^>]* data-js="ok"' "$tmp/dom.html" ||
    fail "the page's script did not run to its end (no data-js=\"ok\" on <html>)"
  local hover
  hover=$(grep -o 'data-hover="[^"]*"' "$tmp/dom.html" | head -1)
  case "$hover" in
    'data-hover="ok:'*epoch*)
      hover=${hover#data-hover=\"ok:}
      echo "  hover over the first marker at width $width: ${hover%\"}" ;;
    *) fail "hovering a marker shows no tooltip with its epoch: ${hover:-no probe result}" ;;
  esac

  # No sideways scrollbar, neither the page's nor a table's (a phone stacks the rows).
  local fit
  fit=$(grep -o 'data-fit="[^"]*"' "$tmp/dom.html" | head -1)
  case "$fit" in
    'data-fit="ok at '*) echo "  no sideways scrolling at width $width" ;;
    *) fail "the page scrolls sideways at width $width: ${fit:-no probe result}" ;;
  esac

  # Not blank: enough non-white pixels and more than a few colours.
  python3 - "$shot" <<'PY' || fail "the screenshot $shot looks blank"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, []
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and colour in (2, 6) and interlace == 0, "unexpected PNG format"
        bpp = 3 if colour == 2 else 4
    elif kind == b"IDAT":
        idat.append(body)
    pos += 12 + n
raw = zlib.decompress(b"".join(idat))
stride = width * bpp
# Byte-wise addition mod 256 of two rows at once (no carries between bytes).
lo7 = int.from_bytes(b"\x7f" * stride, "big")
hi1 = int.from_bytes(b"\x80" * stride, "big")
def add_rows(x, y):
    a, b = int.from_bytes(x, "big"), int.from_bytes(y, "big")
    return (((a & lo7) + (b & lo7)) ^ ((a ^ b) & hi1)).to_bytes(stride, "big")
dark_table = bytes(1 if v < 235 else 0 for v in range(256))
prev = bytes(stride)
dark = 0
colours = set()
for y in range(height):
    start = y * (stride + 1)
    f = raw[start]
    line = raw[start + 1:start + 1 + stride]
    if f == 2:
        line = add_rows(line, prev)
    elif f != 0:
        out = bytearray(line)
        for i in range(stride):
            a = out[i - bpp] if i >= bpp else 0
            if f == 1:
                out[i] = (out[i] + a) & 255
            elif f == 3:
                out[i] = (out[i] + ((a + prev[i]) >> 1)) & 255
            else:
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        line = bytes(out)
    if bpp == 4:
        line_rgb = b"".join(line[x:x + 3] for x in range(0, stride, 4))
    else:
        line_rgb = line
    dark += line_rgb.translate(dark_table).count(1)
    if y % 4 == 0:
        for x in range(0, len(line_rgb), 12):
            colours.add((line_rgb[x] >> 4, line_rgb[x + 1] >> 4, line_rgb[x + 2] >> 4))
    prev = line
share = dark / (width * height * 3)
print(f"  {sys.argv[1].rsplit('/', 1)[-1]}: {width}x{height}, {100 * share:.1f} % of channels not white, {len(colours)} colours")
sys.exit(0 if share > 0.01 and len(colours) >= 8 else 1)
PY
}

# --- the check: a tiny comparison --------------------------------------------------------------
tiny="$tmp/tiny compare"
"$initlab" compare --inits normal,xavier-uniform --model 784,16,10 --epochs 2 --train-limit 1000 \
    --seeds 2 --out "$tiny" --quiet >/dev/null ||
  fail "initlab compare did not run"
[ -f "$tiny/report.html" ] || fail "initlab compare wrote no report.html"
check_page "$tiny" "$tmp/wide.png" 1280 1300
check_page "$tiny" "$tmp/phone.png" 390 1600

# --- the guide's example, for the docs ----------------------------------------------------------
if [ "$docs" = 1 ]; then
  example="$tmp/compare"
  "$initlab" compare --model 784,32,10 --inits normal,xavier-uniform,kaiming-normal --epochs 3 \
      --train-limit 3000 --seeds 3 --jobs 1 --out "$example" --quiet >/dev/null ||
    fail "the guide's compare example did not run"
  check_page "$example" "$tmp/docs-wide.png" 1280 1250
  check_page "$example" "$tmp/docs-phone.png" 390 1400
  cp "$tmp/docs-wide.png" docs/report-html.png
  cp "$tmp/docs-phone.png" docs/report-html-phone.png
  echo "check-report-html: wrote docs/report-html.png and docs/report-html-phone.png"
fi

echo "check-report-html: ok ($(($(date +%s) - start)) s)"
