"""The course site's checks, as Playwright steps: serve a folder, open a page, list problems.

Each check returns a list of problems (strings naming the page and what is wrong) rather
than asserting, so the tests can run them on a doctored copy of the site and see them fail.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import sys
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

ROOT = Path(__file__).resolve().parents[2]


def load_builder():
    """``site/build_site.py`` as a module (``site/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "site" / "build_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A browser that stops reading (page left early) is not an error of the site."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pages(folder: Path) -> list[str]:
    """The site's HTML pages, relative to its root (``index.html``, ``01_....html``, ...)."""
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*.html") if "_static" not in p.parts
    )


def open_page(page, url: str) -> list[str]:
    """Load ``url``; return the console errors, page errors and failed requests it caused."""
    problems = []
    on_console = lambda m: m.type == "error" and problems.append(f"console: {m.text}")  # noqa: E731
    on_error = lambda e: problems.append(f"page error: {e}")  # noqa: E731
    on_failed = lambda r: problems.append(f"request failed: {r.url} ({r.failure})")  # noqa: E731
    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.on("requestfailed", on_failed)
    try:
        response = page.goto(url, wait_until="load")
        if response is None or response.status != 200:
            problems.append(f"status {response.status if response else None}")
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_error)
        page.remove_listener("requestfailed", on_failed)
    return [f"{url}: {p}" for p in problems]


def internal_targets(page, base: str) -> set[str]:
    """Every link, image, script and stylesheet of the open page that points into the site
    (fragments dropped)."""
    urls = page.eval_on_selector_all(
        "a[href], img[src], script[src], link[href]",
        "els => els.map(e => e.href || e.src)",
    )
    host = urlsplit(base).netloc
    return {urldefrag(u).url for u in urls if urlsplit(u).netloc == host}


def status(url: str) -> int:
    """HTTP status of a GET of ``url`` (0 when the server does not answer)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except urllib.error.URLError:
        return 0


def broken_targets(targets: set[str], checked: dict) -> list[str]:
    """The targets that do not answer 200 (``checked`` caches statuses across pages)."""
    for url in targets - checked.keys():
        checked[url] = status(url)
    return sorted(f"{u} -> {checked[u]}" for u in targets if checked[u] != 200)


def images_without_alt(page) -> list[str]:
    """``src`` of every image of the open page whose alt text is missing or blank."""
    return page.eval_on_selector_all(
        "img", "els => els.filter(e => !(e.getAttribute('alt') || '').trim()).map(e => e.src)"
    )


def check_page(page, base: str, name: str, checked: dict) -> list[str]:
    """All problems of one page: load errors, broken internal targets, images without alt."""
    url = f"{base}/{name}"
    problems = open_page(page, url)
    problems += [
        f"{url}: broken {t}" for t in broken_targets(internal_targets(page, base), checked)
    ]
    problems += [f"{url}: image without alt text: {src}" for src in images_without_alt(page)]
    return problems


def search(page, base: str, words: str, timeout_s: float = 30) -> list[str]:
    """Sphinx's own search page for ``words``: the result links' targets (page names)."""
    page.goto(f"{base}/search.html?q={words}")
    results = page.locator("#search-results ul.search li a")
    page.wait_for_function(
        "() => document.querySelector('#search-results p.search-summary') !== null",
        timeout=timeout_s * 1000,
    )
    hrefs = results.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    return [urlsplit(h).path.rsplit("/", 1)[-1] for h in hrefs]
