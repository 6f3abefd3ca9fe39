"""Copy the JavaScript the book serves itself from node_modules into a static folder.

``python tools/vendor_assets.py node_modules _vendor``

The folder is Sphinx's ``html_static_path`` (see ``_config.yml``), so its files
land in ``_build/html/_static/``: MathJax 3 (``mathjax/``), require.js
(``require.min.js``) and the ipywidgets HTML manager (``html-manager/``). With
them the rendered book typesets math and shows widget state without any CDN.
The versions are pinned in ``package-lock.json``.
"""

import shutil
import sys
from pathlib import Path

# (source inside node_modules, destination inside the static folder, files to skip)
ASSETS = [
    ("mathjax/es5", "mathjax", ("*.map",)),
    ("@jupyter-widgets/html-manager/dist", "html-manager", ("*.map", "embed.js", "embed.js.LICENSE.txt", "libembed-amd.js")),
]
FILES = [("requirejs/require.js", "require.min.js")]
LICENSES = ["mathjax/LICENSE", "requirejs/package.json", "@jupyter-widgets/html-manager/package.json"]


def vendor(node_modules: Path, static: Path) -> None:
    if not node_modules.is_dir():
        raise SystemExit(f"{node_modules} is missing: run `npm ci` first (make assets does)")
    if static.exists():
        shutil.rmtree(static)
    static.mkdir(parents=True)
    for src, dst, skip in ASSETS:
        shutil.copytree(node_modules / src, static / dst, ignore=shutil.ignore_patterns(*skip))
    for src, dst in FILES:
        shutil.copy2(node_modules / src, static / dst)
    notices = static / "THIRD_PARTY"
    notices.mkdir()
    for path in LICENSES:
        shutil.copy2(node_modules / path, notices / path.replace("/", "__"))
    print(f"vendored {sum(1 for _ in static.rglob('*'))} files into {static}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    vendor(Path(sys.argv[1]), Path(sys.argv[2]))
