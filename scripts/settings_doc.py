"""Regenerate the settings table in docs/settings.md from the Settings model."""

from __future__ import annotations

import json
from pathlib import Path

from dailypapers.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def table() -> str:
    """The Markdown table of every setting."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = json.dumps(default) if isinstance(default, list) else str(default)
        rows.append(f"| `DAILYPAPERS_{name.upper()}` | `{shown}` | {field.description} |")
    return "\n".join(rows)


def main() -> None:
    """Rewrite the table between the markers."""
    text = DOC.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{START}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
