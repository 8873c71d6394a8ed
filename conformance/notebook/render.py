"""How the notebook objects look: redaction first, then HTML blocks in a monospace font and pandas tables.

Every value passes through `conformance.redact.REDACTOR` before it is put into text, a DataFrame or HTML.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from conformance.redact import REDACTOR
from conformance.report import FAILED, INFRASTRUCTURE, PASSED, SKIPPED

STYLE = (
    "<style>"
    ".akc{font-family:system-ui,sans-serif;font-size:13px;margin:4px 0}"
    # Code, YAML, JSON and commands read in a monospace font, whatever the notebook's own theme says.
    ".akc pre,.akc code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace;"
    "font-size:12px}"
    ".akc pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:6px 8px;margin:4px 0;"
    "white-space:pre-wrap;word-break:break-all;text-align:left}"
    ".akc pre.cmd{background:#1f2328;color:#e6edf3}"
    ".akc table{border-collapse:collapse;margin:4px 0}"
    ".akc th,.akc td{border:1px solid #d0d7de;padding:2px 8px;vertical-align:top}"
    ".akc th{background:#f6f8fa;text-align:left}"
    ".akc .ok{color:#1a7f37;font-weight:600}.akc .bad{color:#cf222e;font-weight:600}"
    ".akc .warn{color:#9a6700;font-weight:600}.akc .muted{color:#656d76}"
    "</style>"
)

OUTCOME_COLOURS = {
    PASSED: "#1a7f37",
    FAILED: "#cf222e",
    INFRASTRUCTURE: "#cf222e",
    SKIPPED: "#9a6700",
    "success": "#1a7f37",
    "failure": "#cf222e",
    "error": "#cf222e",
    "partial": "#9a6700",
}


def redacted(value: Any) -> str:
    """Any value as text with every registered key replaced by the redaction marker."""
    return REDACTOR.redact(value if isinstance(value, str) else str(value))


def register_keys(keys: Iterable[str] | Mapping[str, str]) -> None:
    """Register keys the notebook made itself (e.g. with reference_impl.keygen) before anything shows them."""
    values = keys.values() if isinstance(keys, Mapping) else keys
    for key in values:
        REDACTOR.add(str(key))


def esc(value: Any) -> str:
    return html.escape(redacted(value))


def box(inner: str) -> str:
    return f'{STYLE}<div class="akc">{inner}</div>'


def pre(text: str, *, command: bool = False) -> str:
    css = ' class="cmd"' if command else ""
    return f"<pre{css}>{esc(text)}</pre>"


def muted(text: str) -> str:
    return f'<div class="muted">{esc(text)}</div>'


def frame(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame whose text cells are redacted (numbers stay numbers, for sorting and sums)."""
    cleaned = [[cell if isinstance(cell, int | float) else redacted(cell) for cell in row] for row in rows]
    return pd.DataFrame(cleaned, columns=list(columns))


def table(data: pd.DataFrame, *, colour: Sequence[str] = (), empty: str = "(nothing to show)") -> str:
    """A DataFrame as HTML: text left-aligned (Jupyter right-aligns table cells), numbers right-aligned,
    outcome columns coloured, cells HTML-escaped, no index. An empty frame is a sentence, not a bare header."""
    if data.empty:
        return muted(empty)
    text_columns = [c for c in data.columns if not pd.api.types.is_numeric_dtype(data[c])]
    styler = (
        data.style.hide(axis="index")
        .format(escape="html")
        .set_properties(subset=text_columns, **{"text-align": "left", "white-space": "pre-wrap"})
        .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
    )
    numeric = [c for c in data.columns if c not in text_columns]
    if numeric:
        styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    for column in colour:
        if column in data.columns:
            styler = styler.map(
                lambda v: f"color:{OUTCOME_COLOURS[v]};font-weight:600" if v in OUTCOME_COLOURS else "", subset=[column]
            )
    return styler.to_html()
