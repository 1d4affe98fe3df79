#!/usr/bin/env python3
"""Check that a study's report.html draws in a real browser: headless Chromium, no network.

    python tools/check_report_html.py out/report.html [--screenshot page.png] [--chromium PATH]

Chromium loads the page from file:// with networking and background services off, runs its
scripts (``--virtual-time-budget`` lets plotly finish) and dumps the resulting DOM. The check
passes when every figure container (``div.plot``) holds a drawn plotly SVG (``main-svg``), the
page's own error box (``#js-errors``, filled by its ``window.onerror`` handler) stays hidden, and
Chromium's console log (``--enable-logging=stderr``) shows no JavaScript error. ``--screenshot``
also writes a PNG of the page. Exit status 0 when all is well, 1 with the problems listed.
"""
from __future__ import annotations

import argparse
import html.parser
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

DEFAULT_CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars",
         "--mute-audio", "--disable-extensions", "--disable-default-apps",
         # parallel coordinates draw with WebGL: allow Chromium's software renderer without a GPU
         "--enable-unsafe-swiftshader")
#: Console lines that mean the page's JavaScript failed.
JS_ERROR = re.compile(r"CONSOLE.*(Uncaught|Error)")


def find_chromium(explicit: str | None = None) -> str | None:
    if explicit:
        return explicit if pathlib.Path(explicit).exists() or shutil.which(explicit) else None
    return next((shutil.which(c) for c in DEFAULT_CHROMIUM if shutil.which(c)), None)


def _run(chromium: str, page: pathlib.Path, extra: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="mlsysim-chromium-") as profile:
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=5000", *extra, page.resolve().as_uri()]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class _PlotScanner(html.parser.HTMLParser):
    """Records, for every ``div.plot``, whether a ``main-svg`` element is drawn inside it, and
    whether the page's error box is shown."""

    def __init__(self):
        super().__init__()
        self.plots: dict[str, bool] = {}
        self.error_box: str | None = None
        self._stack: list[tuple[str, str | None]] = []  # (tag, plot id this element opens)
        self._in_errors = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        opens = a.get("id") if tag == "div" and "plot" in classes else None
        if opens is not None:
            self.plots[opens] = False
        if "main-svg" in classes:
            for _, plot in reversed(self._stack):
                if plot is not None:
                    self.plots[plot] = True
                    break
        if a.get("id") == "js-errors":
            self.error_box = "" if "hidden" not in a else None
            self._in_errors = self.error_box is not None
        if tag not in ("br", "img", "input", "meta", "link", "path", "rect", "line", "circle", "hr"):
            self._stack.append((tag, opens))

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break
        if tag == "div":
            self._in_errors = False

    def handle_data(self, data):
        if self._in_errors:
            self.error_box = (self.error_box or "") + data


def check(page: pathlib.Path, *, chromium: str | None = None, screenshot: pathlib.Path | None = None,
          width: int = 1280, height: int = 2400, timeout: float = 120.0) -> list[str]:
    """The problems found drawing ``page`` (an empty list when every figure drew without error)."""
    browser = find_chromium(chromium)
    if browser is None:
        return ["no Chromium found (install the Debian package 'chromium' or pass --chromium)"]
    problems = []
    dom = _run(browser, page, ["--dump-dom"], timeout)
    scanner = _PlotScanner()
    scanner.feed(dom.stdout)
    if not dom.stdout.strip():
        problems.append(f"Chromium produced no DOM (exit {dom.returncode}): {dom.stderr.strip()[-500:]}")
    expected = page.read_text(encoding="utf-8", errors="replace").count('class="figure-data"')
    if len(scanner.plots) != expected:
        problems.append(f"the page has {expected} figure data block(s) but {len(scanner.plots)} figure container(s)")
    problems += [f"figure {fid!r} did not draw (no plotly main-svg inside)"
                 for fid, ok in scanner.plots.items() if not ok]
    if scanner.error_box is not None:
        problems.append(f"the page reports: {scanner.error_box.strip() or 'an error'}")
    problems += [f"console: {line.strip()}" for line in dom.stderr.splitlines() if JS_ERROR.search(line)]
    if screenshot is not None:
        shot = _run(browser, page, [f"--screenshot={screenshot.resolve()}", f"--window-size={width},{height}"], timeout)
        if not screenshot.exists():
            problems.append(f"no screenshot written (exit {shot.returncode}): {shot.stderr.strip()[-300:]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", type=pathlib.Path, help="report.html to check")
    ap.add_argument("--screenshot", type=pathlib.Path, help="also write a PNG of the page here")
    ap.add_argument("--chromium", help="browser executable (default: chromium on PATH)")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args(argv)
    if not args.page.is_file():
        print(f"no such file: {args.page}", file=sys.stderr)
        return 2
    problems = check(args.page, chromium=args.chromium, screenshot=args.screenshot, width=args.width,
                     height=args.height)
    for p in problems:
        print(f"FAIL {p}")
    if not problems:
        print(f"ok: every figure of {args.page} drew, no JavaScript errors"
              + (f"; screenshot {args.screenshot}" if args.screenshot else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
