#!/usr/bin/env python3
"""Execute the lab's Rust notebooks headless and check what they print (scripts/notebooks.sh runs it in
the notebook venv, with the evcxr kernel registered there).

Each notebook runs in a fresh evcxr kernel whose working folder is the notebook's folder (so its
`:dep initlab = { path = ".." }` resolves), cell by cell, with a time limit per
cell. Then:

- the standard output of its code cells, in order, must equal the golden file of the example the
  notebook mirrors (metadata "initlab" -> "example"), <golden dir>/<example>.txt, line for line; the
  first differing line is shown. A notebook that differs is run once more, as scripts/parity.sh
  does: identical then is a loud warning (not deterministic on this machine), different again fails;
- its last code cell must show a PNG picture (the cost curve) through evcxr's display protocol.

The executed notebooks (outputs included) are written to --out for a look.

Usage: notebooks.py --golden-dir DIR --out DIR [--timeout S] NOTEBOOK.ipynb ...
Exit status 0 only when every notebook ran and printed its example's lines.
"""
import argparse
import base64
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def say(message):
    print("notebooks: " + message, flush=True)


def execute(path, timeout):
    """The notebook at `path` executed in a fresh kernel; raises on a cell error or a timeout."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=120,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "rust"),
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    client.execute()
    return nb


def printed_lines(nb):
    """Every line the code cells wrote to standard output, in order."""
    text = "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )
    return text.splitlines()


def first_difference(ours, golden):
    """None when equal, else (line number from 1, our line, the golden line); a missing line is None."""
    for i in range(max(len(ours), len(golden))):
        a = ours[i] if i < len(ours) else None
        b = golden[i] if i < len(golden) else None
        if a != b:
            return i + 1, a, b
    return None


def shows_png(nb):
    """Whether the last code cell displayed a PNG picture."""
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    for out in last.get("outputs", []):
        data = out.get("data", {}).get("image/png")
        if out.get("output_type") in ("display_data", "execute_result") and data:
            payload = data if isinstance(data, str) else "".join(data)
            return base64.b64decode(payload).startswith(PNG_SIGNATURE)
    return False


def failed_cell_text(error):
    """The useful part of nbclient's error: the cell's source tail and the kernel's message."""
    return "\n".join("    " + line for line in str(error).strip().splitlines()[-30:])


def run_once(path, golden, timeout):
    """(executed notebook or None, problem text or None, seconds)."""
    start = time.monotonic()
    try:
        nb = execute(path, timeout)
    except CellTimeoutError as e:
        return None, "a cell ran past %d s (NOTEBOOK_CELL_TIMEOUT):\n%s" % (timeout, failed_cell_text(e)), 0
    except (CellExecutionError, DeadKernelError) as e:
        return None, "a cell failed:\n%s" % failed_cell_text(e), 0
    seconds = time.monotonic() - start
    diff = first_difference(printed_lines(nb), golden)
    if diff:
        line, ours, theirs = diff
        return nb, "differs from the golden file at line %d:\n  notebook: %s\n  golden:   %s" % (
            line, "(no line)" if ours is None else ours, "(no line)" if theirs is None else theirs), seconds
    if not shows_png(nb):
        return nb, "its last cell showed no PNG picture (the cost curve)", seconds
    return nb, None, seconds


def one_line_init(nb):
    """None when the init is a one-line edit: exactly one code line `let init = InitScheme::…;`, and
    every weight init in the code cells goes through `init.` (no init scheme named anywhere else).
    Otherwise what breaks it."""
    code = [line.strip() for cell in nb.cells if cell.cell_type == "code"
            for line in cell.source.splitlines() if not line.strip().startswith("//")]
    choices = [line for line in code if line.startswith("let init = InitScheme::")]
    if len(choices) != 1:
        return "%d code lines `let init = InitScheme::…;` (one is the promise)" % len(choices)
    applied = [line for line in code if ".apply_to_linear(" in line]
    if not applied or any(not line.startswith("init.apply_to_linear(") for line in applied):
        return "a weight init that does not go through `init.` (%s)" % (applied or "none found")
    others = [line for line in code if "InitScheme::" in line and line not in choices
              and not line.startswith("use ")]
    if others:
        return "another init scheme named in code: %s" % others[0]
    return None


def check(path, golden_dir, out_dir, timeout):
    """True when the notebook printed its example's golden lines (on the first or the second run)."""
    name = os.path.basename(path)
    nb0 = nbformat.read(path, as_version=4)
    problem = one_line_init(nb0)
    if problem:
        say("%s: FAILED: changing the init is not a one-line edit: %s" % (name, problem))
        return False
    example = nb0.metadata.get("initlab", {}).get("example")
    if not example:
        say("%s: no metadata initlab.example naming the example it mirrors" % name)
        return False
    golden_path = os.path.join(golden_dir, example + ".txt")
    with open(golden_path) as f:
        golden = f.read().splitlines()
    say("%s: running (mirrors examples/%s.rs; golden file %s)" % (name, example, golden_path))
    nb, problem, seconds = run_once(path, golden, timeout)
    if problem and nb is not None and "differs" in problem:
        say("%s: %s; running it once more" % (name, problem))
        first = problem
        nb, problem, seconds = run_once(path, golden, timeout)
        if not problem:
            say("%s: WARNING: differed on its first run (%s), identical on a second run: not "
                "deterministic on this machine" % (name, first.splitlines()[0]))
    if nb is not None:
        os.makedirs(out_dir, exist_ok=True)
        nbformat.write(nb, os.path.join(out_dir, name))
    if problem:
        say("%s: FAILED: %s" % (name, problem))
        return False
    say("%s: identical to %s (%d lines), cost curve shown, %.1f s" % (name, golden_path, len(golden), seconds))
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--golden-dir", required=True)
    parser.add_argument("--out", required=True, help="folder for the executed notebooks")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()
    ok = True
    for path in args.notebooks:
        ok = check(path, args.golden_dir, args.out, args.timeout) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
