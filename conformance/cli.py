"""`apikey-conformance`: run the conformance suite from anywhere, with pytest's options and the harness's own."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

from conformance.suite import features_dir

MISSING_EXTRA = (
    "apikey-conformance needs the suite's dependencies ({name} is not installed): "
    "pip install -e '.[conformance]', or run it through `python3 -m tox -e conformance`"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `pytest --pyargs conformance.suite` with the scenarios' folder as rootdir (allure names results by it).

    Every argument is passed on: `apikey-conformance --target envoy --profile kgateway --alluredir out`.
    `apikey-conformance differential --help` compares two targets on generated policies instead.
    """
    # Looked up, not imported: pytest must import pytest-bdd itself to rewrite its assertions.
    missing = next((name for name in ("pytest", "pytest_bdd") if importlib.util.find_spec(name) is None), None)
    if missing:
        print(MISSING_EXTRA.format(name=missing), file=sys.stderr)
        return 2
    import pytest

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["differential"]:
        try:
            from conformance.differential.cli import main as differential
        except ImportError as error:
            print(MISSING_EXTRA.format(name=error.name).replace("[conformance]", "[differential]"), file=sys.stderr)
            return 2
        return differential(args[1:])
    if any(a in ("-h", "--help") for a in args):
        print(main.__doc__)
    rootdir = [] if any(a.startswith("--rootdir") for a in args) else ["--rootdir", str(features_dir().parent)]
    return int(pytest.main(["--pyargs", "conformance.suite", "-p", "no:cacheprovider", *rootdir, *args]))


if __name__ == "__main__":
    sys.exit(main())
