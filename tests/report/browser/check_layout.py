#!/usr/bin/env python3
"""Checks the layout of nmreport's HTML page in headless Chromium at the
widths people read it at (1280 and 1920 CSS pixels):

- the page does not scroll sideways: document scrollWidth <= viewport width;
- every section (card) holds its content: each visible element's box lies
  inside its section's box, and no element inside a section scrolls sideways
  (scrollWidth <= clientWidth), so no table hides columns behind a scrollbar;
- the page has exactly one search box (an <input> of type search or text,
  or an SVG control labelled "Search");
- in the memory-over-time charts, the allocation site (stacked area) that
  grew most (in bytes, from the chart's own data) is legible: the drawn height of its growth is
  at least MIN_FRACTION of its chart's plot height in some chart of the page.

For each width a screenshot is saved in OUT_DIR with the element boxes the
checks used (layout-WIDTH.png, layout-WIDTH.json), and the screenshot is
compared with the layout: the page background at a point just outside each
section differs from the card colour found at the section's inside edge,
i.e. the pixels show the cards where the DOM says they are.

usage: check_layout.py [--chromium PATH] --out OUT_DIR PAGE.html
       check_layout.py [--chromium PATH] --out OUT_DIR --nmreport NMREPORT --mkprofile MK
  (the second form writes the profile `report_mkprofile page` and its page
   into OUT_DIR first: a flat 512 MiB committed mapping beside a growing
   leak, and Java names of 130 characters without a break opportunity)
Exit status 0 = all checks passed; 77 = Chromium absent (CTest skip); else 1.
"""

import argparse
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402
from check_page import check, failures  # noqa: E402

WIDTHS = (1280, 1920)
HEIGHT = 900
MIN_FRACTION = 0.3


def png_pixels(data):
    """Decodes an 8-bit RGB/RGBA PNG (what Chromium writes): (w, h, rows of bytes, bpp)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), "unexpected PNG type"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, rows, bpp


LAYOUT_JS = r"""(function () {
  function box(e) { var r = e.getBoundingClientRect();
    return {l: r.left + scrollX, t: r.top + scrollY, r: r.right + scrollX, b: r.bottom + scrollY}; }
  function visible(e) { var s = getComputedStyle(e), r = e.getBoundingClientRect();
    return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0; }
  var out = {vw: document.documentElement.clientWidth, sw: document.documentElement.scrollWidth,
             sections: [], outside: [], scrollers: [], searches: 0};
  document.querySelectorAll('main section').forEach(function (sec) {
    var sb = box(sec);
    out.sections.push({id: sec.id, box: sb});
    sec.querySelectorAll('*').forEach(function (e) {
      if (!visible(e) || (e.closest('svg') && e.tagName.toLowerCase() !== 'svg')) return;
      if (e.closest('.tip')) return;
      var b = box(e);
      if (b.l < sb.l - 0.5 || b.r > sb.r + 0.5)
        out.outside.push({section: sec.id, tag: e.tagName, cls: e.className && e.className.baseVal
                          !== undefined ? e.className.baseVal : e.className, box: b,
                          text: (e.textContent || '').slice(0, 60)});
      if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')
        out.scrollers.push({section: sec.id, tag: e.tagName, cls: String(e.className),
                            sw: e.scrollWidth, cw: e.clientWidth});
    });
  });
  document.querySelectorAll('input').forEach(function (e) {
    var t = (e.getAttribute('type') || 'text').toLowerCase();
    if ((t === 'search' || t === 'text') && visible(e)) out.searches++;
  });
  document.querySelectorAll('svg text').forEach(function (e) {
    if (visible(e) && /^\s*search\s*$/i.test(e.textContent)) out.searches++;
  });
  return out;
})()"""

CHART_JS = r"""(function () {
  var out = [];
  document.querySelectorAll('svg.nmchart').forEach(function (svg) {
    var d = JSON.parse(svg.querySelector("script[type='application/json']").textContent);
    var plot = svg.querySelector('[id$="-plot"]'), ph = plot.height.baseVal.value;
    var series = [];
    svg.querySelectorAll('g > title').forEach(function (t) {
      var g = t.parentNode, ys = [], pts;
      var poly = g.querySelector('polygon'), line = g.querySelector('polyline');
      if (poly) {
        pts = poly.points; var n = pts.numberOfItems / 2;
        for (var i = 0; i < n; i++) ys.push(pts.getItem(n * 2 - 1 - i).y - pts.getItem(i).y);
      } else if (line) {
        pts = line.points;
        for (var i = 0; i < pts.numberOfItems; i++) ys.push(-pts.getItem(i).y);
      } else return;
      series.push({name: t.textContent, drawn: Math.max.apply(null, ys) - Math.min.apply(null, ys)});
    });
    out.push({id: svg.id, plot_h: ph, data: d.series, drawn: series});
  });
  return out;
})()"""


def check_charts(b, width):
    charts = b.evaluate(CHART_JS)
    if not check(bool(charts), f"{width}px: the page has a memory-over-time chart"):
        return
    grow, name = -1, None
    for c in charts:
        for s in c["data"]:
            ys = [v for v in s["y"] if v is not None]
            if (s["stacked"] and s["name"] != "other sites" and ys
                    and max(ys) - min(ys) > grow):
                grow, name = max(ys) - min(ys), s["name"]
    if grow <= 0:
        print(f"skip {width}px: no allocation site changes over the snapshots")
        return
    best = 0.0
    for c in charts:
        for s in c["drawn"]:
            if s["name"] == name and c["plot_h"] > 0:
                best = max(best, s["drawn"] / c["plot_h"])
    check(best >= MIN_FRACTION,
          f"{width}px: the series that grew most ({name}, +{grow / 1048576:.1f} MiB) is drawn over "
          f"{best:.0%} of its chart's height (>= {MIN_FRACTION:.0%})")


def check_screenshot(b, width, lay, out_dir):
    shot = b.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    data = base64.b64decode(shot["data"])
    with open(os.path.join(out_dir, f"layout-{width}.png"), "wb") as f:
        f.write(data)
    with open(os.path.join(out_dir, f"layout-{width}.json"), "w") as f:
        json.dump(lay, f, indent=1)
    w, h, rows, bpp = png_pixels(data)
    check(w == width, f"{width}px: the screenshot is as wide as the viewport ({w})")

    def px(x, y):
        x, y = int(x), int(y)
        if not (0 <= x < w and 0 <= y < h):
            return None
        return tuple(rows[y][x * bpp:x * bpp + 3])

    agree = 0
    for s in lay["sections"]:
        bx = s["box"]
        y = (bx["t"] + min(bx["b"], bx["t"] + 40)) / 2
        inside, outside = px(bx["l"] + 3, y), px(bx["l"] - 4, y)
        right_in, right_out = px(bx["r"] - 3, y), px(bx["r"] + 4, y)
        if None in (inside, outside, right_in, right_out):
            continue
        agree += inside != outside and right_in != right_out and right_in == inside
    check(agree == len(lay["sections"]) and agree > 0,
          f"{width}px: the screenshot shows each of the {len(lay['sections'])} cards where the "
          f"DOM puts it ({agree} agree)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--out", required=True)
    ap.add_argument("--nmreport")
    ap.add_argument("--mkprofile")
    ap.add_argument("file", nargs="?")
    a = ap.parse_args()
    chromium = shutil.which(a.chromium)
    if not chromium:
        print(f"SKIP: {a.chromium} not found: layout checks not run")
        return 77
    os.makedirs(a.out, exist_ok=True)
    page = a.file
    if a.nmreport and a.mkprofile:
        prof, page = os.path.join(a.out, "page.nmt"), os.path.join(a.out, "page.html")
        subprocess.run([a.mkprofile, "page", prof], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([a.nmreport, "--html", "-o", page, prof], check=True)
    if not page:
        ap.error("give PAGE.html, or --nmreport and --mkprofile")
    url = "file://" + os.path.abspath(page)
    b = cdp.Browser(chromium)
    try:
        b.send("Page.enable")
        # Overlay scrollbars, as on most laptops: the layout width is the
        # window width, and the full-page screenshot has the same layout.
        b.send("Emulation.setScrollbarsHidden", hidden=True)
        for width in WIDTHS:
            b.send("Emulation.setDeviceMetricsOverride", width=width, height=HEIGHT,
                   deviceScaleFactor=1, mobile=False)
            b.send("Page.navigate", url=url)
            b.wait_event("Page.loadEventFired")
            lay = b.evaluate(LAYOUT_JS)
            check(lay["sw"] <= lay["vw"],
                  f"{width}px: no horizontal scrolling (scrollWidth {lay['sw']} <= {lay['vw']})")
            check(len(lay["sections"]) >= 3, f"{width}px: the page has its sections "
                  f"({len(lay['sections'])})")
            check(not lay["outside"], f"{width}px: every card holds its content"
                  + "".join(f"\n     {o['section']}: <{o['tag']} class={o['cls']}> "
                            f"{o['box']['l']:.0f}..{o['box']['r']:.0f} {o['text']!r}"
                            for o in lay["outside"][:10]))
            check(not lay["scrollers"], f"{width}px: nothing inside a card scrolls sideways"
                  + "".join(f"\n     {o['section']}: <{o['tag']} class={o['cls']}> "
                            f"{o['sw']} > {o['cw']}" for o in lay["scrollers"][:10]))
            check(lay["searches"] == 1, f"{width}px: exactly one search box ({lay['searches']})")
            check_charts(b, width)
            check_screenshot(b, width, lay, a.out)
    finally:
        b.close()
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
