"""What a served page holds, without a browser: a Bokeh server serialises each document change
as it happens (``PATCH-DOC``); replaying those messages gives each data source's rows there."""
from __future__ import annotations

import json

from bokeh.protocol import Protocol


def record_patches(doc, sent: list) -> None:
    """Append to ``sent`` each change of ``doc`` as the server would send it: ``(content, bytes)``."""
    def patch(event) -> None:
        message = Protocol().create("PATCH-DOC", [event])
        size = len(message.content_json) + sum(memoryview(b.data).nbytes for b in message.buffers or [])
        sent.append((json.loads(json.dumps(message.content, default=str)), size))

    doc.on_change(patch)


def page_rows(sent: list, ids: set[str]) -> dict[str, int]:
    """Rows of each data source in ``ids`` on a page that applied ``sent`` in order: a
    definition or a ColumnDataChanged sets them, a ColumnsStreamed adds."""
    rows: dict[str, int] = {}

    def length(data) -> int | None:
        for _name, column in data.get("entries", []):
            if isinstance(column, dict) and "shape" in column:
                return column["shape"][0]
            if isinstance(column, list):
                return len(column)
        return None

    def walk(o) -> None:
        if isinstance(o, dict):
            if o.get("id") in ids and "data" in o.get("attributes", {}):
                n = length(o["attributes"]["data"])
                rows[o["id"]] = rows.get(o["id"], 0) if n is None else n
            model = o["model"].get("id") if isinstance(o.get("model"), dict) else None
            if model in ids and o.get("kind") == "ColumnDataChanged":
                rows[model] = length(o.get("new") or o["data"])
            elif model in ids and o.get("kind") == "ColumnsStreamed":
                rows[model] = rows.get(model, 0) + length(o["data"])
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    for content, _size in sent:
        walk(content)
    return rows
