"""Executes the lockline notebooks on traces the tests made.

    python3 notebooks/run_notebooks.py TRACE_A TRACE_B

explore_trace.ipynb runs on TRACE_A, compare_runs.ipynb on both. Nothing is
written back: the notebooks stay without outputs in git, and this script
fails when one has outputs committed. Exit status non-zero on any error.
"""
import os
import sys

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))


def run(name, env):
    path = os.path.join(HERE, name)
    nb = nbformat.read(path, as_version=4)
    stale = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    if stale:
        sys.exit(f"{name}: cells {stale} have outputs committed; strip them")
    os.environ.update(env)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    if errors:
        sys.exit(f"{name}: {errors[0].ename}: {errors[0].evalue}")
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                 if o.output_type == "display_data" and "image/png" in o.get("data", {}))
    print(f"{name}: {len(nb.cells)} cells ran, {images} figures")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: run_notebooks.py TRACE_A TRACE_B")
    a, b = (os.path.abspath(p) for p in sys.argv[1:])
    run("explore_trace.ipynb", {"LOCKLINE_TRACE": a})
    run("compare_runs.ipynb", {"LOCKLINE_TRACE_A": a, "LOCKLINE_TRACE_B": b})


if __name__ == "__main__":
    main()
