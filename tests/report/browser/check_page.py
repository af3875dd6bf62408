#!/usr/bin/env python3
"""Loads an nmreport flame graph SVG or HTML page in headless Chromium and
checks that it works as a user would use it:

- no console error or warning, no uncaught exception, no network request
  other than the file itself (the output must be self-contained);
- a real mouse click on a flame graph frame zooms (the frame then spans the
  plot width, frames outside its range are hidden), "Reset zoom" restores;
- hovering a frame shows the tooltip with its value and share;
- a search highlights exactly the frames whose function or library matches
  and reports the matched share, which this script recomputes independently
  from the frames' data attributes (union of ranges, nested matches once);
- for --kind html: clicking a table header sorts the rows by that column,
  the timeline charts are present and answer hovering, the page's search
  box drives the graph.

- for --kind chart (--timeline-svg): hovering the plot shows the values
  at the nearest snapshot.

Usage: check_page.py --chromium PATH --kind flame|html|chart [--search REGEX] FILE
Exit status 0 = all checks passed; 77 = Chromium absent (CTest skip); else 1.
"""

import argparse
import html
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

FRAME_RE = re.compile(r'<g class="f" data-i="(\d+)" data-s="([^"]+)" data-v="([^"]+)" '
                      r'data-d="(\d+)" data-c="([^"]*)" data-n="([^"]*)" data-l="([^"]*)">')
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


def frames_of(text, svg_id):
    """The frames of the flame graph with this id, from the file itself."""
    start = text.index(f'id="{svg_id}"')
    end = text.index("</svg>", start)
    out = []
    for m in FRAME_RE.finditer(text, start, end):
        out.append(dict(i=int(m[1]), s=float(m[2]), v=float(m[3]), d=int(m[4]), c=m[5],
                        n=html.unescape(m[6]), l=html.unescape(m[7])))
    return out


def expected_match(frames, regex):
    rx = re.compile(regex)
    hits = [f for f in frames if f["i"] > 0 and (rx.search(f["n"]) or (f["l"] and rx.search(f["l"])))]
    iv = sorted((f["s"], f["s"] + f["v"]) for f in hits)
    total, cs, ce = 0.0, None, None
    for s, e in iv:
        if ce is None or s >= ce:
            if ce is not None:
                total += ce - cs
            cs, ce = s, e
        else:
            ce = max(ce, e)
    if ce is not None:
        total += ce - cs
    root = frames[0]["v"]
    return len(hits), (total / root if root else 0.0)


def rect_of(b, selector):
    """Scrolls the element into view and returns the centre of its box, or None."""
    r = b.evaluate(f"""(function(){{
        var e = document.querySelector({selector!r});
        if (!e) return null;
        e.scrollIntoView({{block: 'center', inline: 'center'}});
        var r = e.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height];
    }})()""")
    return r


def check_flame(b, text, svg_id, regex, standalone):
    frames = frames_of(text, svg_id)
    if not check(len(frames) >= 3, f"{svg_id}: flame graph has frames ({len(frames)})"):
        return
    q = f"#{svg_id}"
    check(b.evaluate(f"document.querySelector('{q}').getAttribute('data-ready')") == "1",
          f"{svg_id}: script ran (data-ready)")
    plot_w = float(b.evaluate(f"document.querySelector('{q}').getAttribute('data-w')"))

    # Zoom target: the widest frame that is not full width, so zoom must move things.
    root_v = frames[0]["v"]
    cands = [f for f in frames if f["d"] >= 1 and 0.05 * root_v < f["v"] < 0.95 * root_v]
    if not check(bool(cands), f"{svg_id}: a frame narrower than the root to zoom on"):
        return
    z = max(cands, key=lambda f: (f["v"], -f["i"]))
    zs, ze = z["s"], z["s"] + z["v"]
    outside = [f for f in frames if f["d"] >= z["d"] and (f["s"] + f["v"] <= zs or f["s"] >= ze)]
    sel = f"{q} g.f[data-i='{z['i']}'] rect"
    pos = rect_of(b, sel)
    check(pos is not None, f"{svg_id}: frame {z['n']!r} is on screen")
    b.click(pos[0], pos[1])
    zoomed = b.evaluate(f"document.querySelector('{q}').getAttribute('data-zoomed')")
    check(zoomed == str(z["i"]), f"{svg_id}: click zoomed on frame {z['i']} (got {zoomed})")
    w = float(b.evaluate(f"document.querySelector(\"{sel}\").getAttribute('width')"))
    check(abs(w - plot_w) < 0.01, f"{svg_id}: zoomed frame spans the plot ({w} of {plot_w})")
    hidden = b.evaluate(f"document.querySelectorAll('{q} g.f.hid').length")
    check(hidden >= len(outside) and (hidden > 0 or not outside),
          f"{svg_id}: frames outside the zoomed range are hidden ({hidden} >= {len(outside)})")

    # Tooltip on hover.
    b.mouse("mouseMoved", pos[0], pos[1])
    tip = b.evaluate(f"""(function(){{var t = document.getElementById('{svg_id}-tip');
        return [t.classList.contains('off'), t.textContent];}})()""")
    check(not tip[0] and "%" in tip[1] and z["n"] in tip[1],
          f"{svg_id}: tooltip shows name and share ({tip[1]!r})")

    # Reset.
    pos = rect_of(b, f"#{svg_id}-reset")
    check(pos is not None and pos[2] > 0, f"{svg_id}: 'Reset zoom' is visible after a zoom")
    b.click(pos[0], pos[1])
    w = float(b.evaluate(f"document.querySelector(\"{sel}\").getAttribute('width')"))
    check(abs(w - z["v"] / root_v * plot_w) < 0.02,
          f"{svg_id}: reset restored the layout (width {w:.2f})")
    check(b.evaluate(f"document.querySelectorAll('{q} g.f.hid').length") == 0,
          f"{svg_id}: reset shows every frame again")

    # Search.
    want_n, want_frac = expected_match(frames, regex)
    check(want_n > 0, f"{svg_id}: the search pattern {regex!r} matches some frame")
    if standalone:
        pos = rect_of(b, f"#{svg_id}-search")
        b.mouse("mouseMoved", pos[0], pos[1])
        b.mouse("mousePressed", pos[0], pos[1], "left", 1)
        # mouseReleased fires the click, which opens prompt(): the release
        # command only returns once the dialog is handled, so send it raw.
        b.next_id += 1
        b.ws.send(cdp.json.dumps({"id": b.next_id, "method": "Input.dispatchMouseEvent",
                                  "params": {"type": "mouseReleased", "x": pos[0], "y": pos[1],
                                             "button": "left", "clickCount": 1}}))
        b.wait_event("Page.javascriptDialogOpening")
        b.send("Page.handleJavaScriptDialog", accept=True, promptText=regex)
    else:
        box = rect_of(b, "#flame-search")
        check(box is not None, "page has the flame graph search box")
        b.click(box[0], box[1])
        b.send("Input.insertText", text=regex)
        b.evaluate("document.getElementById('flame-search').dispatchEvent(new Event('input'))")
    n = b.evaluate(f"document.querySelectorAll('{q} g.f.match').length")
    frac = b.evaluate(f"document.querySelector('{q}').getAttribute('data-matched')")
    shown = b.evaluate(f"document.getElementById('{svg_id}-matched').textContent")
    check(n == want_n, f"{svg_id}: search highlighted {n} frames, expected {want_n}")
    check(frac is not None and abs(float(frac) - want_frac) < 1e-5,
          f"{svg_id}: matched share {frac}, expected {want_frac:.6f}")
    check(f"{100 * want_frac:.2f}%" in shown, f"{svg_id}: matched share shown ({shown!r})")
    fill = b.evaluate(f"""(function(){{var m = document.querySelector('{q} g.f.match rect');
        return m ? m.getAttribute('fill') : null;}})()""")
    check(fill == "rgb(230,0,230)", f"{svg_id}: matched frames are highlighted ({fill})")


def check_chart(b, svg_id):
    """Hovering the plot shows the read-out at the nearest snapshot."""
    check(b.evaluate(f"document.getElementById('{svg_id}').getAttribute('data-ready')") == "1",
          f"{svg_id}: chart script ran")
    pos = rect_of(b, f"#{svg_id}-plot")
    if not check(pos is not None and pos[2] > 0, f"{svg_id}: plot area on screen"):
        return
    # Point at the last snapshot's own x. Snapshots taken close together may
    # share that x (the last two of a short run often do): the read-out is
    # right when it shows a snapshot drawn at the x under the pointer.
    at = b.evaluate(f"""(function(){{
        var s = document.getElementById('{svg_id}');
        var d = JSON.parse(s.querySelector("script[type='application/json']").textContent);
        var m = s.getScreenCTM(), top = document.getElementById('{svg_id}-plot')
                                                 .getBoundingClientRect().top;
        return [d.px[d.px.length - 1] * m.a + m.e, top + 2]; }})()""")
    b.mouse("mouseMoved", at[0], at[1])
    res = b.evaluate(f"""(function(){{
        var s = document.getElementById('{svg_id}'), t = document.getElementById('{svg_id}-tip');
        var d = JSON.parse(s.querySelector("script[type='application/json']").textContent);
        var h = s.getAttribute('data-hover');
        return [h, t.classList.contains('off'), t.textContent, d.px.length,
                h !== null && d.px[+h] === d.px[d.px.length - 1], d.series[0].name]; }})()""")
    hover, off, txt, npts, same_x, first = res
    check(same_x and not off and first in txt,
          f"{svg_id}: hover read-out at the last snapshot ({hover} of {npts}: {txt[:80]!r})")


def check_html(b, text, regex):
    if check(b.evaluate("document.querySelectorAll('svg.nmchart').length") == 2,
             "page has the timeline charts (allocation sites, whole process)"):
        check_chart(b, "timeline-sites")
        check_chart(b, "timeline-process")
    # The top-functions table: a click on the "cum" header sorts by it, a
    # second click reverses; the header's aria-sort says which way.
    th = b.evaluate("""(function(){
        var t = document.querySelector('#sites table.sortable');
        if (!t) return null;
        var hs = t.tHead.rows[0].cells;
        for (var i = 0; i < hs.length; i++) if (hs[i].textContent === 'cum') return i;
        return null; })()""")
    if check(th is not None, "page has the sortable top-functions table with a cum column"):
        seen = []
        for _ in range(2):
            pos = rect_of(b, f"#sites table.sortable thead th:nth-child({th + 1})")
            b.click(pos[0], pos[1])
            res = b.evaluate(f"""(function(){{
                var t = document.querySelector('#sites table.sortable'), out = [];
                Array.prototype.forEach.call(t.tBodies[0].rows, function(r){{
                    out.push(parseFloat(r.cells[{th}].getAttribute('data-v'))); }});
                return [t.tHead.rows[0].cells[{th}].getAttribute('aria-sort'), out]; }})()""")
            direction, vals = res
            want = sorted(vals, reverse=(direction == "descending"))
            check(direction in ("ascending", "descending") and vals == want,
                  f"top functions sorted {direction} by cum after a header click "
                  f"({len(vals)} rows)")
            seen.append(direction)
        check(len(set(seen)) == 2, f"a second click reverses the order ({seen})")
    ids = re.findall(r'<svg [^>]*id="([^"]+)" class="nmflame"', text)
    if check(bool(ids), "page embeds a flame graph"):
        check_flame(b, text, ids[0], regex, standalone=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--kind", choices=["flame", "html", "chart"], required=True)
    ap.add_argument("--search", default="", help="regex for the flame graph search")
    ap.add_argument("file")
    a = ap.parse_args()
    chromium = shutil.which(a.chromium)
    if not chromium:
        print(f"SKIP: {a.chromium} not found: browser checks not run")
        return 77
    path = os.path.abspath(a.file)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    url = "file://" + path
    b = cdp.Browser(chromium)
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.send(f"{domain}.enable")
        b.send("Page.navigate", url=url)
        b.wait_event("Page.loadEventFired")
        if a.kind == "chart":
            ids = re.findall(r'<svg [^>]*id="([^"]+)" class="nmchart"', text)
            if check(len(ids) == 1, "file is one chart SVG"):
                check_chart(b, ids[0])
        elif a.kind == "flame":
            ids = re.findall(r'<svg [^>]*id="([^"]+)" class="nmflame"', text)
            if check(len(ids) == 1, "file is one flame graph SVG"):
                check_flame(b, text, ids[0], a.search, standalone=True)
        else:
            check_html(b, text, a.search)
        b.evaluate("1")  # flush pending events
        for ev in b.events:
            m, p = ev["method"], ev["params"]
            if m == "Runtime.exceptionThrown":
                check(False, f"no uncaught exception: {p['exceptionDetails']}")
            elif m == "Runtime.consoleAPICalled" and p["type"] in ("error", "warning", "assert"):
                args = " ".join(str(x.get("value", x.get("description"))) for x in p["args"])
                check(False, f"no console {p['type']}: {args}")
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                check(False, f"no browser log {p['entry']['level']}: {p['entry']['text']}")
            elif m == "Network.requestWillBeSent":
                u = p["request"]["url"]
                check(u == url or u.startswith("data:"), f"no request but the file itself: {u}")
    finally:
        b.close()
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
