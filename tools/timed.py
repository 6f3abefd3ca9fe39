"""Run a command and report how long it took: ``python tools/timed.py LABEL CMD...``.

Used by the Makefile so that CI's log shows the time of every stage.
"""

import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    label, cmd = sys.argv[1], sys.argv[2:]
    print(f"==> {label}", flush=True)
    start = time.monotonic()
    code = subprocess.call(cmd)
    print(f"==> {label}: {time.monotonic() - start:.0f} s ({'ok' if code == 0 else f'exit {code}'})", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
