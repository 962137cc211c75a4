"""Small HTML renderings for notebooks: a caption and a key/value or row table."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping


def key_value_table(title: str, rows: Mapping[str, object]) -> str:
    """A titled two-column table, every value escaped."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(key))}</th>"
        f"<td style='text-align:left'>{html.escape(str(value))}</td></tr>"
        for key, value in rows.items()
    )
    return f"<div><strong>{html.escape(title)}</strong><table>{body}</table></div>"


def row_table(columns: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A table with a header row, every cell escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
