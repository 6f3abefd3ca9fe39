"""The book builds with warnings as errors, reads offline, and renders in a real browser.

Marked ``book`` and ``browser``: ``make test`` runs them after the notebooks. The
build goes to ``_build/html`` and the screenshots to ``_build/screenshots``.
"""

import functools
import http.server
import os
import re
import shutil
import subprocess
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from PIL import Image

from .conftest import ROOT, notebooks

HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = ["1-three-questions", "2-provable-learning", "3-sgd-overparametrization", "4-mathematical-theories",
            "5-theory-to-algorithm"]
SECTION = "book/1-three-questions/min-norm"


@pytest.fixture(scope="session")
def book() -> Path:
    """Build the book once per session, with Sphinx warnings as errors."""
    if not (ROOT / "_vendor" / "mathjax" / "tex-chtml.js").exists():
        pytest.fail("_vendor/ is missing: run `make assets` (make test does) before the book tests")
    result = subprocess.run(
        [shutil.which("jupyter-book", path=os.path.dirname(os.sys.executable)) or "jupyter-book",
         "build", str(ROOT), "--builder", "html", "-W", "-n", "--keep-going"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, "the book build failed or warned:\n" + (result.stdout + result.stderr)[-6000:]
    return HTML


class Links(HTMLParser):
    """Collect script sources, stylesheet/link hrefs, image sources and anchors of a page."""

    def __init__(self):
        super().__init__()
        self.scripts, self.styles, self.images, self.anchors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "preload"):
            self.styles.append(a["href"])
        elif tag == "img" and a.get("src"):
            self.images.append(a["src"])
        elif tag == "a" and a.get("href"):
            self.anchors.append(a["href"])


def links(page: Path) -> Links:
    parser = Links()
    parser.feed(page.read_text())
    return parser


def pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)


@pytest.mark.book
def test_navigation_lists_all_five_chapters(book):
    intro = (book / "book" / "intro.html").read_text()
    nav = intro[intro.index('class="bd-sidebar-primary'):]
    for chapter in CHAPTERS:
        assert f'href="{chapter}/index.html"' in nav, f"{chapter} missing from the navigation"
    titles = re.findall(r'toctree-l1[^>]*><a[^>]*>\s*(Chapter \d)', nav)
    assert titles == [f"Chapter {i}" for i in range(1, 6)]
    assert "book/intro.html" in (book / "index.html").read_text(), "index.html should lead to the intro"


@pytest.mark.book
def test_every_page_loads_only_local_scripts_styles_and_images(book):
    for page in pages(book):
        found = links(page)
        for url in found.scripts + found.styles + found.images:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, f"{page.relative_to(book)} loads {url} from the network"
            target = (page.parent / parts.path).resolve()
            assert target.exists(), f"{page.relative_to(book)} refers to a missing file {url}"


@pytest.mark.book
def test_math_and_widgets_are_served_by_the_site(book):
    section = (book / f"{SECTION}.html").read_text()
    scripts = [urlsplit(s).path for s in links(book / f"{SECTION}.html").scripts]
    for local in ("_static/mathjax/tex-chtml.js", "_static/require.min.js", "_static/html-manager/embed-amd.js"):
        assert any(s.endswith(local) for s in scripts), f"{local} is not loaded by the section page"
    assert "application/vnd.jupyter.widget-state+json" in section, "the explorer's widget state is not embedded"


@pytest.mark.book
@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_colab_button_opens_this_notebook(book, notebook):
    rel = notebook.relative_to(ROOT).as_posix()
    page = book / Path(rel).with_suffix(".html")
    org_repo = urlsplit(CONFIG["repository"]["url"]).path.strip("/")
    expected = (f"{CONFIG['launch_buttons']['colab_url']}/github/{org_repo}/blob/"
                f"{CONFIG['repository']['branch']}/{rel}")
    assert expected in links(page).anchors, f"no Colab button to {expected} on {page.name}"


@pytest.mark.book
def test_theorem_exercise_and_solution_render(book):
    section = (book / f"{SECTION}.html").read_text()
    assert 'class="theorem admonition"' in section or "prf:theorem" in section or "theorem" in section
    assert 'id="ex-min-norm"' in section and 'class="exercise admonition"' in section
    assert re.search(r'class="solution[^"]*dropdown', section), "the solution is not collapsible"


# --------------------------------------------------------------------------- browser


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")  # the same headless CLI


def chromium() -> str:
    """Path to Chromium (or Chrome, as on GitHub's runners); install Debian's Chromium where we are root,
    else skip with the reason."""
    found = next(filter(None, map(shutil.which, BROWSERS)), None)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], capture_output=True, timeout=900)
        found = shutil.which("chromium")
        if found:
            return found
    pytest.skip("Chromium is not installed and could not be installed here (`apt-get install chromium` as root)")


class Recorder(http.server.SimpleHTTPRequestHandler):
    """Serve the built site and remember every request and its status."""

    log: list = []

    def log_request(self, code="-", size="-"):
        Recorder.log.append((self.path, int(code) if str(code).isdigit() else code))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(book):
    Recorder.log = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Recorder, directory=str(book)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def browse(url: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                   f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--hide-scrollbars", *args, url]
        return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.mark.browser
@pytest.mark.parametrize("page", ["index", SECTION])
def test_page_renders_in_headless_chromium(site, page):
    Recorder.log.clear()
    url = f"{site}/{page}.html"
    dom = browse(url, "--dump-dom").stdout
    source = (HTML / (page + ".html")).read_text()
    if 'class="math' in source:
        assert "<mjx-container" in dom, f"MathJax did not typeset {page}"
        assert "\\(" not in re.sub(r"<(script|pre)[\s\S]*?</\1>", "", dom), f"untypeset math left on {page}"
    for number in range(1, 6):
        assert f"Chapter {number}" in dom, f"Chapter {number} is missing from the navigation of {page}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{page.replace('/', '__')}.png"
    shot.unlink(missing_ok=True)
    browse(url, f"--screenshot={shot}", "--window-size=1280,2200")
    assert shot.exists(), "no screenshot was taken"
    image = Image.open(shot).convert("L")
    histogram = image.histogram()
    non_white = 1 - sum(histogram[245:]) / sum(histogram)
    assert non_white > 0.02, f"the screenshot of {page} is (nearly) blank"

    # the browser asks for /favicon.ico on its own; the book has none
    failed = [(p, code) for p, code in Recorder.log if code not in (200, 304) and p != "/favicon.ico"]
    assert not failed, f"requests that failed while rendering {page}: {failed}"
    requested = [path for path, _ in Recorder.log]
    assert any("mathjax/tex-chtml.js" in p for p in requested)
    if page == SECTION:
        assert any(p.startswith("/_images/") and p.endswith(".png") for p in requested), "the figures were not loaded"
        assert "widget-slider" in dom or "jupyter-widgets" in dom, "the explorer's widget state was not rendered"
        colab = re.search(r'href="(https://colab\.research\.google\.com/[^"]+)"', dom)
        assert colab and colab.group(1).endswith(f"/blob/main/{SECTION}.ipynb")


# ---------------------------------------------------------------- explorers in the static book

# Every section with an explorer, as chapter/section.
EXPLORERS = ["1-three-questions/min-norm", "1-three-questions/margins", "2-provable-learning/weight-sharing",
             "2-provable-learning/margin-distributions", "3-sgd-overparametrization/strict-saddles",
             "3-sgd-overparametrization/overparametrized-landscapes", "3-sgd-overparametrization/lazy-training",
             "3-sgd-overparametrization/implicit-bias", "3-sgd-overparametrization/width-and-generalization",
             "4-mathematical-theories/depth-separation", "4-mathematical-theories/flat-minima",
             "5-theory-to-algorithm/gram-gauss-newton"]


def stored_views(notebook: Path) -> list[list[list[str]]]:
    """SHA-256 of every view of every explorer, from the notebook's widget state: ``[explorer][row][column]``.

    A one-slider explorer is one ``Stack`` of views (one row); a two-slider one
    an outer ``Stack`` over the first slider's values whose children are
    ``Stack`` rows over the second's (:func:`dltheory.widgets.static_explorer`).
    """
    import base64
    import hashlib
    import json

    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]

    def model(ref):
        return state[ref.removeprefix("IPY_MODEL_")]

    def image_digest(view):
        image = model(view["state"]["children"][0])
        (buffer,) = [b for b in image.get("buffers", []) if b["path"] == ["value"]]
        return hashlib.sha256(base64.b64decode(buffer["data"])).hexdigest()

    def row(stack):
        return [image_digest(model(v)) for v in stack["state"]["children"]]

    stacks = {key: m for key, m in state.items() if m["model_name"] == "StackModel"}
    inner = {c.removeprefix("IPY_MODEL_") for m in stacks.values() for c in m["state"]["children"]}
    explorers = []
    for key, m in stacks.items():
        if key in inner:
            continue  # a row of a two-slider explorer
        children = [model(c) for c in m["state"]["children"]]
        if all(c["model_name"] == "StackModel" for c in children):
            explorers.append([row(c) for c in children])
        elif all(c["model_name"] == "VBoxModel" for c in children):
            explorers.append([row(m)])
    assert explorers, f"{notebook.name} stores no explorer views: was it executed with widget state?"
    return [json.loads(json.dumps(e)) for e in explorers]


def slider_walk(rows: int, columns: int) -> list[tuple[int, str, int, int]]:
    """A walk over a ``rows x columns`` grid of views by single arrow-key presses: boustrophedon order.

    Each step is ``(slider, key, row, column)``: press ``key`` on slider ``slider``
    (0 the first, 1 the second), after which view ``(row, column)`` must show. A
    one-slider explorer is one row moved by slider 0.
    """
    moving = 0 if rows == 1 else 1
    walk, column = [], 0
    for row in range(rows):
        if row:
            walk.append((0, "ArrowRight", row, column))
        key = "ArrowRight" if row % 2 == 0 else "ArrowLeft"
        for _ in range(columns - 1):
            column += 1 if key == "ArrowRight" else -1
            walk.append((moving, key, row, column))
    return walk


def test_slider_walk_visits_every_view_once():
    for rows, columns in [(1, 5), (3, 4), (2, 1), (4, 2)]:
        seen = [(0, 0)] + [(r, c) for _, _, r, c in slider_walk(rows, columns)]
        assert sorted(seen) == [(r, c) for r in range(rows) for c in range(columns)]


SHOWN_VIEW = """async () => {
  const shown = Array.from(document.querySelectorAll('img')).filter(i => i.src.startsWith('blob:') && i.offsetParent !== null);
  const digests = [];
  for (const img of shown) {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const hash = await crypto.subtle.digest('SHA-256', bytes);
    digests.push(Array.from(new Uint8Array(hash)).map(b => b.toString(16).padStart(2, '0')).join(''));
  }
  return [...new Set(digests)];
}"""


@pytest.mark.browser
@pytest.mark.parametrize("section", EXPLORERS)
def test_explorer_sliders_move_their_views_without_a_kernel(site, section):
    """Press the slider's arrow key notch by notch: the shown view must be the one stored for that value."""
    from playwright.sync_api import sync_playwright

    (views,) = stored_views(ROOT / "book" / f"{section}.ipynb")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(f"{site}/book/{section}.html")
        page.wait_for_selector(".noUi-handle", timeout=30_000)  # the widget manager rendered the slider
        handles = page.query_selector_all(".noUi-handle")
        assert len(handles) == (1 if len(views) == 1 else 2), f"{section}: {len(handles)} sliders"
        for slider, key, row, column in [(None, None, 0, 0), *slider_walk(len(views), len(views[0]))]:
            if slider is not None:
                handles[slider].focus()
                page.keyboard.press(key)
            stored = views[row][column]
            for _ in range(50):  # the link and the redraw run in the page: give them up to 5 s
                shown = page.evaluate(SHOWN_VIEW)
                if shown == [stored]:
                    break
                page.wait_for_timeout(100)
            assert shown == [stored], f"{section}: at view ({row}, {column}) the page shows {shown}"
        browser.close()
