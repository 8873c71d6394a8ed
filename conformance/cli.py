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
    `apikey-conformance targets` lists the targets and each one's --target-option settings, with defaults.
    `apikey-conformance differential --help` compares two targets on generated policies instead.
    """
    # Looked up, not imported: pytest must import pytest-bdd itself to rewrite its assertions.
    missing = next((name for name in ("pytest", "pytest_bdd") if importlib.util.find_spec(name) is None), None)
    if missing:
        print(MISSING_EXTRA.format(name=missing), file=sys.stderr)
        return 2
    import pytest

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["targets"]:
        print(targets_help(args[1:]))
        return 0
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


def targets_help(names: Sequence[str] = ()) -> str:
    """Every target (or the ones named), what it is, and its --target-option settings from its options model."""
    from conformance.targets import TARGETS, TargetUnavailable, load_target

    lines = []
    for name in names or TARGETS:
        try:
            target = load_target(name)
        except TargetUnavailable as error:
            lines += [f"{name}: {error}", ""]
            continue
        except ValueError as error:
            return str(error)
        lines.append(f"{name}: {target.summary}  [profiles: {', '.join(sorted(target.profiles))}]")
        rows = target.Options.fields_help()
        width = max(len(row[0]) for row in rows)
        for option, kind, default, text in rows:
            lines.append(f"  {option:<{width}}  {text} ({kind}; default {default})")
        lines.append("")
    lines.append("Set them with --target-option KEY=VALUE, APIKEY_CONFORMANCE_TARGET_OPTIONS=KEY=VALUE,KEY=VALUE")
    lines.append("or the apikey_conformance_target_options ini setting (a KEY=VALUE a line); the flag wins, then")
    lines.append("the environment, then the ini setting.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
