"""Execute notebooks in place (or into another folder), storing outputs and widget state.

``python tools/execute_notebooks.py [--output-dir DIR] [--timeout S] NOTEBOOK...``

The scale comes from ``DLT_SCALE`` (the Makefile sets ``quick`` for the stored
outputs; ``make execute-full`` sets ``full`` and writes to ``_build/full``). Each
notebook runs in a fresh kernel from its own folder; the time of each is
printed, and cells keep nbclient's timing metadata (read by the audit).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def execute(path: Path, output_dir: Path | None, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
        record_timing=True,
    )
    start = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - start
    target = path if output_dir is None else output_dir / path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--output-dir", type=Path, default=None, help="write executed copies here instead of in place")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()
    # A backend exported to the kernel would make inline figures vanish from the book.
    os.environ.pop("MPLBACKEND", None)
    scale = os.environ.get("DLT_SCALE", "(default)")
    failed = []
    for path in args.notebooks:
        try:
            seconds = execute(path, args.output_dir, args.timeout)
        except CellExecutionError as err:
            print(f"FAILED {path}:\n{err}", file=sys.stderr)
            failed.append(path)
            continue
        print(f"{seconds:6.1f} s  {path}  (scale {scale})", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
