#!/usr/bin/env python3
"""The HTML report in a real browser: run a small sweep over sharing x concurrency, render
`cachestress report` in headless Chromium, and check that the five charts are in the
rendered DOM with drawn content, that the page logged nothing to the console (no script
errors, no blocked loads), and that the screenshot is a real, non-blank image. Then, for a
single-run report, the sweep report and a report of several files, that no two text
elements of a chart overlap: a copy of each page (the shipped page has no script and a CSP
that forbids one) gets a script that measures every SVG <text> with getBoundingClientRect
and writes the overlapping pairs into the DOM, which --dump-dom returns.

Usage: report_in_chromium.py CACHESTRESS_BINARY [--keep DIR]
Exit 77 (ctest SKIP_RETURN_CODE) when Chromium is not installed; never passes without it.
Standard library only.
"""
import html
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

SKIP = 77
CHART_IDS = ["chart-throughput", "chart-wait-cdf", "chart-timeline", "chart-interference", "chart-intervals"]
WINDOW = (1000, 3800)
# The flags the issue names, plus a throwaway profile so nothing is written to $HOME.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=90, **kwargs)


def chromium(binary, profile, url, *action):
    result = run([binary, *CHROMIUM_FLAGS, "--user-data-dir=" + profile, *action, url])
    if result.returncode != 0:
        fail(f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def console_messages(stderr):
    """Lines Chromium logs for the page's console: script errors, CSP violations, warnings."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class ChartCounter(html.parser.HTMLParser):
    """Per chart id: the <svg> elements inside its <figure> and the shapes drawn in them."""
    SHAPES = {"line", "polyline", "polygon", "rect", "circle", "path", "text"}

    def __init__(self):
        super().__init__()
        self.figure = None
        self.svgs = {}
        self.shapes = {}
        self.notes = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            self.figure = attrs.get("id")
            self.svgs.setdefault(self.figure, 0)
            self.shapes.setdefault(self.figure, 0)
            self.notes.setdefault(self.figure, 0)
        elif self.figure is not None and tag == "svg":
            self.svgs[self.figure] += 1
        elif self.figure is not None and tag in self.SHAPES:
            self.shapes[self.figure] += 1
            if attrs.get("class") == "note":
                self.notes[self.figure] += 1

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figure = None


# Measures every text of each chart and writes the pairs whose boxes overlap (by more than
# half a pixel each way: neighbours that touch are fine) into <pre id="overlaps">.
OVERLAP_SCRIPT = """<script>
(function () {
  const found = [];
  for (const svg of document.querySelectorAll('svg')) {
    const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim() !== '');
    const boxes = texts.map(t => t.getBoundingClientRect());
    for (let i = 0; i < texts.length; ++i) {
      for (let j = i + 1; j < texts.length; ++j) {
        const a = boxes[i], b = boxes[j];
        const dx = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (dx > 0.5 && dy > 0.5) {
          const figure = svg.closest('figure');
          found.push((figure ? figure.id : '?') + ': "' + texts[i].textContent + '" overlaps "' + texts[j].textContent + '"');
        }
      }
    }
  }
  const out = document.createElement('pre');
  out.id = 'overlaps';
  out.textContent = JSON.stringify({texts: document.querySelectorAll('svg text').length, overlaps: found});
  document.body.appendChild(out);
})();
</script>"""


def overlapping_texts(browser, profile, page):
    """(number of SVG texts, overlapping pairs) of a page, measured in Chromium on a copy."""
    with open(page) as f:
        markup = f.read()
    markup = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", markup)
    if "<script" in markup:
        fail(f"{page} contains a script")
    copy = page + ".measure.html"
    with open(copy, "w") as f:
        f.write(markup.replace("</body>", OVERLAP_SCRIPT + "</body>"))
    dom = chromium(browser, profile, "file://" + copy, "--window-size=1000,3800", "--dump-dom").stdout
    match = re.search(r'<pre id="overlaps">(.*?)</pre>', dom, re.S)
    if not match:
        fail(f"the measuring script did not run on {copy}")
    result = json.loads(html.unescape(match.group(1)))
    return result["texts"], result["overlaps"]


def png_summary(path):
    """(width, height, distinct byte values in the decompressed pixel data)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    at, width, height, idat = 8, 0, 0, b""
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    pixels = zlib.decompress(idat)
    return width, height, len(set(pixels[::7]))  # a stride keeps this quick; every colour still shows


def main():
    if len(sys.argv) not in (2, 4):
        print(__doc__, file=sys.stderr)
        return 2
    cachestress = os.path.abspath(sys.argv[1])
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("SKIP: chromium is not installed (apt-get install chromium)")
        return SKIP

    with tempfile.TemporaryDirectory(prefix="cachestress-browser-") as tmp:
        keep = sys.argv[3] if len(sys.argv) == 4 else None
        env = dict(os.environ, TMPDIR=tmp)
        sweep = run([cachestress, "--scenario", "locked", "--builds", "16", "--interval-ms", "10",
                     "--sweep", "sharing=shared,locked", "--sweep", "concurrency=2,8",
                     "--out", os.path.join(tmp, "sweep.json"), "-q"], env=env)
        # shared breaks the locked scenario's own expectation (exit 1): that is its point.
        if sweep.returncode not in (0, 1) or not os.path.exists(os.path.join(tmp, "sweep.json")):
            fail(f"sweep exited {sweep.returncode}:\n{sweep.stderr}")
        page = os.path.join(tmp, "report.html")
        report = run([cachestress, "report", os.path.join(tmp, "sweep.json"), "-o", page])
        if report.returncode != 0:
            fail(f"cachestress report exited {report.returncode}:\n{report.stderr}")
        url = "file://" + page

        # The console check can fail: a page that breaks its own policy is caught.
        bad = os.path.join(tmp, "bad.html")
        with open(bad, "w") as f:
            f.write("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                    "content=\"default-src 'none'\"></head><body><img src=\"http://192.0.2.1/x.png\">"
                    "<script>undefined_function()</script></body></html>")
        if not console_messages(chromium(browser, os.path.join(tmp, "profile"), "file://" + bad, "--dump-dom").stderr):
            fail("chromium logged no console message for a page with a blocked load and a blocked script: "
                 "the console check would not see errors")

        rendered = chromium(browser, os.path.join(tmp, "profile"), url, "--dump-dom")
        messages = console_messages(rendered.stderr)
        if messages:
            fail("the report logged to the console:\n" + "\n".join(messages))
        charts = ChartCounter()
        charts.feed(rendered.stdout)
        for chart in CHART_IDS:
            if chart not in charts.svgs:
                fail(f"#{chart} is not in the rendered page")
            if charts.svgs[chart] != 1:
                fail(f"#{chart} has {charts.svgs[chart]} <svg> elements, expected 1")
            if charts.shapes[chart] < 8:
                fail(f"#{chart} draws only {charts.shapes[chart]} shapes")
            if charts.notes[chart]:
                fail(f"#{chart} shows a 'no data' note for a sweep over sharing x concurrency")
        if "<script" in rendered.stdout:
            fail("the report contains a script")

        screenshot = os.path.join(tmp, "report.png")
        shot = chromium(browser, os.path.join(tmp, "profile"), url, "--screenshot=" + screenshot,
                        "--window-size={},{}".format(*WINDOW))
        if console_messages(shot.stderr):
            fail("the report logged to the console while screenshotting:\n" + "\n".join(console_messages(shot.stderr)))
        if not os.path.exists(screenshot):
            fail("chromium wrote no screenshot")
        width, height, distinct = png_summary(screenshot)
        if (width, height) != WINDOW:
            fail(f"screenshot is {width}x{height}, expected {WINDOW[0]}x{WINDOW[1]}")
        # A blank white page has a handful of byte values; text and coloured lines, hundreds.
        if distinct < 64:
            fail(f"screenshot looks blank ({distinct} distinct byte values)")
        # Layout: no two texts of a chart overlap, for the three shapes of report.
        single = os.path.join(tmp, "single.json")
        collided = os.path.join(tmp, "collided.json")
        for name, args in ((single, ["--scenario", "locked", "--builds", "24"]),
                           (collided, ["--scenario", "shared", "--builds", "24"])):
            result = run([cachestress, *args, "--out", name, "-q"], env=env)
            if result.returncode not in (0, 1) or not os.path.exists(name):
                fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        pages = {"single-run": [single], "sweep": [os.path.join(tmp, "sweep.json")],
                 "several files": [single, collided, os.path.join(tmp, "sweep.json"), collided]}
        # The measurement can fail: two texts drawn at one place are caught.
        overlapped = os.path.join(tmp, "overlapped.html")
        with open(overlapped, "w") as f:
            f.write("<!DOCTYPE html><html><body><figure id=\"t\"><svg width=\"300\" height=\"60\">"
                    + "".join(f"<text x=\"{10 + i * 40}\" y=\"30\">label {i}</text>" for i in range(40))
                    + "</svg></figure></body></html>")
        if not overlapping_texts(browser, os.path.join(tmp, "profile"), overlapped)[1]:
            fail("the overlap check found nothing on a page of texts drawn over each other")
        measured = []
        for shape, inputs in pages.items():
            out = os.path.join(tmp, shape.replace(" ", "-") + ".html")
            result = run([cachestress, "report", *inputs, "-o", out])
            if result.returncode != 0:
                fail(f"cachestress report ({shape}) exited {result.returncode}:\n{result.stderr}")
            texts, overlaps = overlapping_texts(browser, os.path.join(tmp, "profile"), out)
            if texts < 40:
                fail(f"the {shape} report has only {texts} SVG texts: the measurement saw no charts")
            if overlaps:
                fail(f"the {shape} report has overlapping text:\n  " + "\n  ".join(overlaps[:20]))
            measured.append(f"{shape} {texts}")
        if keep:
            os.makedirs(keep, exist_ok=True)
            for name in ("sweep.json", "report.html", "report.png"):
                shutil.copy(os.path.join(tmp, name), keep)
        print(f"ok: 5 charts rendered, no console messages, screenshot {width}x{height} ({distinct} byte values); "
              f"no overlapping text among the SVG texts of: {', '.join(measured)}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
