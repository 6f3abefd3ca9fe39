"""Run notebooks under several seeds and report, claim by claim, how often each holds.

``python tools/seed_sweep.py NOTEBOOK... [--seeds 0-9] [--jobs 2] [--markdown FILE]``

Each notebook is executed once per seed with ``DLT_SEED`` set (every seed the
notebook uses comes from ``dltheory.seed``, so each run draws new data,
initialisations and batches), in a fresh kernel, from a temporary folder, and
its outputs are thrown away: the stored notebook is never touched. Every
``claim`` is logged at full precision (``DLT_CLAIMS_LOG``) and a failed claim
does not stop the run (``DLT_CLAIMS_RAISE=0``), so each claim is measured
under every seed. The report gives, per claim, the seeds it holds for, the
range of the measured value and its requirement: the evidence a threshold is
chosen from, and the command the book's prose cites for its seed statistics.

Scale and device come from the environment as usual (``DLT_SCALE``,
``DLT_DEVICE``; quick scale on the CPU by default). The exit status is 1 if a
notebook failed to run or a claim held for fewer than ``--min-pass`` seeds
(default: all of them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"3"`` or ``"0,2,5-7"`` as a sorted list of seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        seeds.update(range(int(low), int(high or low) + 1))
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"seeds must be non-negative integers such as 0-9, got {text!r}")
    return sorted(seeds)


def run_one(notebook: str, seed: int, timeout: int) -> dict:
    """Execute ``notebook`` under ``DLT_SEED=seed`` in a temporary folder; its claims and errors."""
    with tempfile.TemporaryDirectory(prefix="dltheory-sweep-") as tmp:
        folder = Path(tmp)
        copy = folder / Path(notebook).name
        shutil.copy2(notebook, copy)
        log = folder / "claims.jsonl"
        os.environ.pop("MPLBACKEND", None)
        os.environ.update(DLT_SEED=str(seed), DLT_CLAIMS_LOG=str(log), DLT_CLAIMS_RAISE="0")
        nb = nbformat.read(copy, as_version=4)
        # IPC sockets in the run's own folder: kernels started at once never race for TCP ports.
        manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(folder / "kernel"))
        client = NotebookClient(nb, km=manager, timeout=timeout, allow_errors=True,
                                resources={"metadata": {"path": str(folder)}})
        start = time.monotonic()
        client.execute()
        seconds = time.monotonic() - start
        errors = [f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
                  for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
                  for out in cell.get("outputs", []) if out.get("output_type") == "error"]
        claims = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return {"notebook": notebook, "seed": seed, "seconds": seconds, "claims": claims, "errors": errors}


def number(x: float) -> str:
    if math.isnan(x):
        return "nan"
    return f"{x:.4g}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.2e}"


def summarise(runs: list[dict], seeds: list[int]) -> dict[str, list[dict]]:
    """Per notebook, one row per claim (in the notebook's order): passes, failing seeds, value range."""
    table: dict[str, list[dict]] = {}
    for notebook in sorted({r["notebook"] for r in runs}):
        rows: dict[tuple, dict] = {}
        for run in sorted((r for r in runs if r["notebook"] == notebook), key=lambda r: r["seed"]):
            seen: dict[tuple, int] = defaultdict(int)
            for claim in run["claims"]:
                key = (claim["statement"], claim["quantity"])
                seen[key] += 1
                key = (*key, seen[key])  # a claim made twice in a notebook counts twice
                row = rows.setdefault(key, {"statement": claim["statement"], "quantity": claim["quantity"],
                                            "requirement": claim["requirement"], "values": {}, "holds": {}})
                row["values"][run["seed"]] = claim["value"]
                row["holds"][run["seed"]] = claim["holds"]
        table[notebook] = list(rows.values())
        for row in table[notebook]:
            row["passes"] = sum(row["holds"].get(s, False) for s in seeds)
            row["failing"] = [s for s in seeds if not row["holds"].get(s, False)]
            values = [v for v in row["values"].values() if not math.isnan(v)]
            row["range"] = (min(values), max(values)) if values else (math.nan, math.nan)
    return table


def report(table: dict[str, list[dict]], runs: list[dict], seeds: list[int], markdown: bool = False) -> str:
    lines = []
    label = f"seeds {seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else f"seeds {seeds}"
    for notebook, rows in table.items():
        seconds = [r["seconds"] for r in runs if r["notebook"] == notebook]
        head = f"{notebook} ({label}; {min(seconds):.0f}-{max(seconds):.0f} s a run)"
        if markdown:
            lines += [f"### {head}", "", "| holds | min | max | requirement | claim: quantity |", "|---|---|---|---|---|"]
        else:
            lines += [head, f"  {'holds':>6}  {'min':>10}  {'max':>10}  {'requirement':<26} claim: quantity"]
        for row in rows:
            holds = f"{row['passes']}/{len(seeds)}"
            low, high = (number(v) for v in row["range"])
            failing = f" (fails for seeds {row['failing']})" if row["failing"] else ""
            what = f"{row['statement']}: {row['quantity']}{failing}"
            if markdown:
                cells = (holds, low, high, row["requirement"], what)
                lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
            else:
                lines.append(f"  {holds:>6}  {low:>10}  {high:>10}  {row['requirement']:<26} {what}")
        for run in runs:
            if run["notebook"] == notebook and run["errors"]:
                lines.append(f"  seed {run['seed']}: " + "; ".join(run["errors"]))
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-9"), help="e.g. 0-9 or 0,3,5-7")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (each on its own kernel)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--min-pass", type=int, default=None, help="seeds a claim must hold for (default: all)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the report as Markdown")
    args = parser.parse_args()
    tasks = [(str(nb), seed) for nb in args.notebooks for seed in args.seeds]
    runs = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, nb, seed, args.timeout) for nb, seed in tasks]
        for future in futures:
            run = future.result()
            runs.append(run)
            failed = sum(not c["holds"] for c in run["claims"])
            print(f"{run['seconds']:6.1f} s  seed {run['seed']:>3}  {run['notebook']}: {len(run['claims'])} claims, "
                  f"{failed} failed, {len(run['errors'])} errors", file=sys.stderr, flush=True)
    table = summarise(runs, args.seeds)
    print(report(table, runs, args.seeds))
    if args.markdown:
        args.markdown.write_text(report(table, runs, args.seeds, markdown=True))
    need = len(args.seeds) if args.min_pass is None else args.min_pass
    short = [row for rows in table.values() for row in rows if row["passes"] < need]
    broken = [run for run in runs if any("ClaimFailed" not in e for e in run["errors"])]
    return 1 if short or broken else 0


if __name__ == "__main__":
    sys.exit(main())
