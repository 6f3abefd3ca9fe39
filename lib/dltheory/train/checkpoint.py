"""Checkpoints of :func:`dltheory.train.fit`: a fingerprint of the run, atomic writes, checked reads."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import torch

__all__ = ["FORMAT", "Checkpoint", "digest", "describe", "plain", "save_atomic", "load", "mismatches"]

#: The tag of the checkpoints this version writes (version 1 held hand-written optimizer state).
FORMAT = "dltheory.train.fit/2"


def digest(*tensors: torch.Tensor | None) -> str:
    """A short SHA-256 of the tensors' dtypes, shapes and bytes (``None`` counts too)."""
    h = hashlib.sha256()
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:20]


def plain(value: Any) -> Any:
    """``value`` as JSON-compatible data (tensors as lists, tuples as lists, anything else by ``repr``)."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if isinstance(v, torch.Tensor) else repr(v)))


def _name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def describe(optimizer: Any, scheduler: Any = None) -> dict:
    """The hyperparameters that make a run what it is: optimizer class and groups, scheduler and its start."""
    if isinstance(optimizer, torch.optim.Optimizer):  # initial_lr is written by a scheduler
        groups = [{k: v for k, v in group.items() if k not in ("params", "initial_lr")}
                  for group in optimizer.param_groups]
        sizes = [[tuple(p.shape) for p in group["params"]] for group in optimizer.param_groups]
        opt = {"class": _name(optimizer), "groups": groups, "shapes": sizes}
    else:
        opt = {"class": _name(optimizer), "defaults": dict(optimizer.defaults)}
    sched = None if scheduler is None else {
        "class": _name(scheduler), "start": {k: v for k, v in scheduler.state_dict().items() if not k.startswith("_")}}
    return plain({"optimizer": opt, "scheduler": sched})


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace``: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_MISSING = "<missing>"


def _differences(saved: Any, current: Any, key: str) -> list[str]:
    """Readable lines for the entries that differ, descending into dicts and lists of dicts."""
    if isinstance(saved, dict) and isinstance(current, dict):
        keys = sorted(set(saved) | set(current), key=str)
        return [line for k in keys
                for line in _differences(saved.get(k, _MISSING), current.get(k, _MISSING), f"{key}.{k}" if key else k)]
    if (isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current)
            and all(isinstance(v, dict) for v in saved + current)):
        return [line for i, (u, v) in enumerate(zip(saved, current)) for line in _differences(u, v, f"{key}.{i}")]
    return [] if saved == current else [f"{key}: checkpoint has {saved!r}, this call has {current!r}"]


def mismatches(saved: dict, current: dict) -> list[str]:
    """The fingerprint entries that differ, one line each (``optimizer.groups.0.lr: checkpoint has ...``)."""
    return _differences(saved, current, "")


def load(path: Path, fingerprint: dict) -> dict:
    """The checkpoint at ``path``, after checking that it was written by this very run.

    Read with ``torch.load(weights_only=True)``: tensors, numbers, strings and
    containers only, never code.
    """
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
        raise ValueError(f"cannot read checkpoint {path}: {err}; delete it to start afresh") from err
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        found = ck.get("format") if isinstance(ck, dict) else None
        raise ValueError(f"{path} is not a checkpoint of this version of dltheory.train.fit (format {found!r}, "
                         f"expected {FORMAT!r}); delete it or pass another checkpoint path to start afresh")
    diffs = mismatches(ck["fingerprint"], fingerprint)
    if diffs:
        raise ValueError(f"checkpoint {path} was written by a different run, refusing to resume it: "
                         + "; ".join(diffs) + ". Delete the file or pass another checkpoint path to start afresh.")
    return ck


class Stateful(Protocol):
    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> Any: ...


class Checkpoint:
    """The checkpoint file of one run: what to save, where, and the fingerprint that names the run.

    ``parts`` maps names to the objects whose ``state_dict`` make up the state
    (model, optimizer, scheduler, sampler, callbacks); :meth:`save` writes their
    states with the History and the initial parameters, :meth:`restore` loads
    them back into the same objects.
    """

    def __init__(self, path: Path, fingerprint: dict, parts: Mapping[str, Stateful | None], steps: int) -> None:
        self.path, self.fingerprint, self.parts, self.steps = path, fingerprint, dict(parts), steps

    def save(self, step: int, history_json: str, init: torch.Tensor, *, finished: bool = False) -> None:
        """Write the state at ``step``; the run is finished at its last step, or earlier when ``finished``."""
        states = {name: None if part is None else part.state_dict() for name, part in self.parts.items()}
        if "model" in states:
            states["model"] = {k: v.detach().cpu() for k, v in states["model"].items()}
        save_atomic({"format": FORMAT, "fingerprint": self.fingerprint, "step": step,
                     "finished": finished or step == self.steps, "states": states, "history": history_json,
                     "init": init.detach().cpu(), "torch_version": str(torch.__version__)}, self.path)

    def restore(self) -> dict | None:
        """Load the saved states into the parts; the checkpoint's other entries, or None if there is no file."""
        if not self.path.exists():
            return None
        ck = load(self.path, self.fingerprint)
        for name, part in self.parts.items():
            if part is not None:
                part.load_state_dict(ck["states"][name])
        return ck
