"""Execute the notebooks headless: jupytext percent .py -> notebook -> nbclient, failing on any cell error.

    python -m conformance.notebook.execute                        # every notebooks/NN_*.py of the checkout
    python -m conformance.notebook.execute 01 03_key_lifecycle    # by number prefix or name
    python -m conformance.notebook.execute -p TARGET=envoy 01     # set a variable of the `parameters` cell
    NOTEBOOK_TARGET=envoy python -m conformance.notebook.execute  # the same through the environment

It lives in the package, not in notebooks/, so that folder holds notebooks only (JupyterLab opens every `.py`
there as one).

Executed notebooks are written to reports/notebooks/ (gitignored), also when they fail. The kernel is this
interpreter, through a kernelspec written to a temporary folder, so no `ipykernel install` is needed and no
other installed "python3" kernel can be picked up by mistake. Exit status: 0 when every notebook ran, 1 when
one failed (the notebook and cell are named), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from conformance.notebook.results import project_root

ROOT = project_root(Path(__file__).resolve().parent)
HERE = ROOT / "notebooks"  # the notebooks, and the kernel's working directory as in Jupyter
DEFAULT_OUTPUT = ROOT / "reports" / "notebooks"
KERNEL_NAME = "apikey-conformance-notebooks"
ENV_PREFIX = "NOTEBOOK_"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


def discover(names: list[str]) -> list[Path]:
    """The NN_*.py notebooks of this folder, or those named (number prefix, name, or a path to a .py file)."""
    notebooks = sorted(HERE.glob("[0-9][0-9]_*.py"))
    if not names:
        return notebooks
    chosen: list[Path] = []
    for name in names:
        if name.endswith(".py") and Path(name).is_file():
            matches = [Path(name).resolve()]
        else:
            stem = Path(name).name.removesuffix(".py").removesuffix(".ipynb")
            matches = [p for p in notebooks if p.stem == stem or p.stem.startswith(stem)]
        if not matches:
            raise UsageError(f"no notebook matches {name!r}; have {', '.join(p.stem for p in notebooks)}")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def literal(text: str) -> Any:
    """A Python literal if it parses as one (1, 2.5, True, {"a": 1}), else the text as a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def assigned_names(source: str) -> list[str]:
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            targets = []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


class UsageError(Exception):
    """A bad command line: reported with exit status 2."""


def parameters_cell(notebook: Any) -> int | None:
    return next((i for i, c in enumerate(notebook.cells) if PARAMETERS_TAG in c.metadata.get("tags", [])), None)


def parameter_names(notebook: Any) -> list[str]:
    index = parameters_cell(notebook)
    return assigned_names(notebook.cells[index].source) if index is not None else []


def inject_parameters(notebook: Any, explicit: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Add a cell after the `parameters` cell setting the values given with -p or NOTEBOOK_<NAME>, for the names
    that cell assigns (others are left to the notebooks that have them). Returns what was injected."""
    import nbformat

    index = parameters_cell(notebook)
    if index is None:
        return {}
    known = parameter_names(notebook)
    values = {name: literal(environ[ENV_PREFIX + name]) for name in known if ENV_PREFIX + name in environ}
    values.update({name: value for name, value in explicit.items() if name in known})
    if values:
        assignments = "\n".join(f"{k} = {v!r}" for k, v in values.items())
        source = "# Parameters injected by conformance.notebook.execute\n" + assignments
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
        notebook.cells.insert(index + 1, cell)
    return values


def write_kernelspec(folder: Path) -> None:
    """A kernelspec that runs ipykernel in this very interpreter."""
    spec_dir = folder / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({Path(sys.executable).parent.parent.name})",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


LEAK_CHECK = """# Added by conformance.notebook.execute: no registered key form appears in any output above.
from conformance.redact import REDACTOR as _REDACTOR

with open({path!r}, encoding="utf-8") as _file:
    _outputs = _file.read()
_leaks = sum(1 for _secret in _REDACTOR.secrets if _secret in _outputs)
assert not _leaks, f"{{_leaks}} registered key value(s) appear in this notebook's outputs"
print(f"leak check: none of {{len(_REDACTOR.secrets)}} registered key forms appears in the outputs")
"""


def output_text(cells: list[Any]) -> str:
    """Everything the executed cells show: streams, rich outputs (text, HTML, JSON) and errors."""
    parts: list[str] = []
    for cell in cells:
        for output in cell.get("outputs", []):
            parts.append(str(output.get("text", "")))
            parts += [v if isinstance(v, str) else json.dumps(v) for v in (output.get("data") or {}).values()]
            parts += [str(output.get("evalue", ""))] + [str(line) for line in output.get("traceback", [])]
    return "\n".join(parts)


def first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:100]
    return ""


def execute(path: Path, output_dir: Path, explicit: dict[str, Any], timeout: int, verbose: bool) -> bool:
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    notebook = jupytext.read(path)
    injected = inject_parameters(notebook, explicit, dict(os.environ))
    code_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    scratch = Path(tempfile.mkdtemp(prefix="nb-leak-check-"))
    outputs_file = scratch / "outputs.txt"
    notebook.cells.append(nbformat.v4.new_code_cell(LEAK_CHECK.format(path=str(outputs_file))))
    leak_check_index = len(notebook.cells) - 1
    current: dict[str, int] = {"index": -1}

    def on_cell_start(cell: Any, cell_index: int) -> None:
        current["index"] = cell_index
        if cell_index == leak_check_index:
            outputs_file.write_text(output_text(notebook.cells[:leak_check_index]), encoding="utf-8")
        elif verbose and cell.cell_type == "code":
            number = code_cells.index(cell_index) + 1
            print(f"    cell {number}/{len(code_cells)}: {first_line(cell.source)}", flush=True)

    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        allow_errors=False,
        resources={"metadata": {"path": str(HERE)}},  # the kernel's working directory, as in Jupyter
        on_cell_start=on_cell_start,
    )
    started = time.monotonic()
    suffix = f" with {injected}" if injected else ""
    print(f"==> {path.name}{suffix}", flush=True)
    output = output_dir / (path.stem + ".ipynb")
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as error:
        index = current["index"]
        if index == leak_check_index:
            where = "the leak check after the last cell"
        else:
            where = f"code cell {code_cells.index(index) + 1 if index in code_cells else '?'} (cell index {index})"
        nbformat.write(notebook, output)
        print(f"FAILED {path.name}: {where}", flush=True)
        if 0 <= index < leak_check_index:
            print(f"  cell starts: {first_line(notebook.cells[index].source)}")
        print(_short(str(error)))
        print(f"  executed notebook (with outputs): {output}")
        return False
    except Exception as error:  # the kernel did not start, or nbclient itself failed
        nbformat.write(notebook, output)
        print(f"FAILED {path.name}: {type(error).__name__}: {_short(str(error))}", flush=True)
        return False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    leak_line = "".join(o.get("text", "") for o in notebook.cells[leak_check_index].get("outputs", [])).strip()
    del notebook.cells[leak_check_index]  # the saved notebook is the notebook, not the harness
    nbformat.write(notebook, output)
    took = time.monotonic() - started
    print(f"ok  {path.name}: {len(code_cells)} code cells in {took:.1f}s; {leak_line} -> {output}", flush=True)
    return True


def _short(text: str, limit: int = 3000) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # the kernel's coloured traceback, as plain text
    return text if len(text) <= limit else "...\n" + text[-limit:]


def check_parameters(notebooks: list[Path], explicit: dict[str, Any]) -> None:
    """Every -p name must be a parameter of at least one of the notebooks to run."""
    import jupytext

    if not explicit:
        return
    known = {name for path in notebooks for name in parameter_names(jupytext.read(path))}
    unknown = sorted(set(explicit) - known)
    if unknown:
        raise UsageError(f"-p {', '.join(unknown)}: no parameters cell sets it; they set {', '.join(sorted(known))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebooks to run (number prefix or name); default all")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable of the parameters cell (Python literal or string), repeatable",
    )
    parser.add_argument("-o", "--output-dir", type=Path, default=DEFAULT_OUTPUT, help=f"default {DEFAULT_OUTPUT}")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each cell as it starts")
    args = parser.parse_args(argv)

    explicit = {}
    for item in args.parameter:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            parser.error(f"-p {item!r}: expected NAME=VALUE")
        explicit[name.strip()] = literal(value)
    try:
        notebooks = discover(args.names)
        check_parameters(notebooks, explicit)
    except UsageError as error:
        print(f"conformance.notebook.execute: {error}", file=sys.stderr)
        return 2
    args.output_dir.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    failed = []
    with tempfile.TemporaryDirectory(prefix="nb-kernels-") as folder:
        write_kernelspec(Path(folder))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [folder, os.environ.get("JUPYTER_PATH")]))
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silences a debugger warning per kernel
        for path in notebooks:
            if not execute(path, args.output_dir, explicit, args.timeout, args.verbose):
                failed.append(path.name)
    took = time.monotonic() - started
    if failed:
        print(f"{len(failed)} of {len(notebooks)} notebooks failed in {took:.1f}s: {', '.join(failed)}")
        return 1
    print(f"all {len(notebooks)} notebooks ran in {took:.1f}s; executed copies in {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
