"""One self-contained HTML page per report: the table, the plots, the grid and the notes, every
image embedded (``data:`` URIs), so the single file opens anywhere, offline::

    from bench.report.html import table_html, write_page
    write_page(Path("reports/x/index.html"), table, images=[("Metric bars", png_path)],
               notes=["quality vs latency: skipped: ..."], title="ctat-bench report")

No scripts, no external style sheets or fonts. Unlike the Markdown and LaTeX tables, the page
keeps the long reasons behind each short note (the files looked for, where, how to get them).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from bench.report.formats import number
from bench.report.table import (
    INCOMPLETE,
    MARK_INCOMPLETE,
    MARK_UNAVAILABLE,
    MISSING,
    NOT_APPLICABLE,
    UNAVAILABLE,
    Cell,
    Column,
    Table,
)

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em;
       color: #222; max-width: 80em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.3em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-top: 2px solid #222; border-bottom: 1px solid #222; }
tbody tr:last-child td { border-bottom: 2px solid #222; }
tr.bound td { color: #555; font-style: italic; }
tr.first-bound td { border-top: 1px solid #222; }
.ci { color: #666; font-size: 0.8em; }
.notes { font-size: 0.85em; color: #444; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
"""
_ARROW = {"up": " ↑", "down": " ↓", "": ""}
_MARK = {MARK_UNAVAILABLE: "†", MARK_INCOMPLETE: "*", None: ""}


def _cell(cell: Cell, column: Column) -> str:
    if cell.status == UNAVAILABLE:
        return "unavailable†"
    if cell.status == NOT_APPLICABLE:
        return "n/a"
    if cell.status == MISSING or cell.value is None:
        return "–" + ("*" if cell.status == INCOMPLETE else "")
    text = html.escape(number(cell.value, column, "∞"))
    if cell.best:
        text = f"<b>{text}</b>"
    if cell.status == INCOMPLETE:
        text += "*"
    if cell.low is not None:
        text += (f' <span class="ci">[{number(cell.low, column, "∞")}, '
                 f'{number(cell.high, column, "∞")}]</span>')
    return text


def _details(note) -> str:
    """The long texts behind a short note (every path looked in, where to get the file)."""
    if not note.details:
        return ""
    return "<ul>" + "".join(f"<li>{html.escape(d)}</li>" for d in note.details) + "</ul>"


def table_html(table: Table) -> str:
    head = ["Model"] + [f"{c.label}{f' ({c.unit})' if c.unit else ''}{_ARROW[c.arrow]}"
                        for c in table.columns]
    lines = [f"<table>\n<caption>{html.escape(table.caption)}</caption>", "<thead><tr>"
             + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    previous_bound = False
    for row in table.rows:
        classes = ["bound"] if row.bound else []
        if row.bound and not previous_bound and row is not table.rows[0]:
            classes.append("first-bound")
        previous_bound = row.bound
        attr = f' class="{" ".join(classes)}"' if classes else ""
        cells = [html.escape(row.label)] + [_cell(c, col) for c, col in
                                           zip(row.cells, table.columns, strict=True)]
        lines.append(f"<tr{attr}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    lines.append("</tbody>\n</table>")
    if table.notes:
        lines.append('<ul class="notes">' + "".join(
            f"<li>{_MARK[n.mark]}{' ' if n.mark else ''}{html.escape(n.text)}{_details(n)}</li>"
            for n in table.notes) + "</ul>")
    return "\n".join(lines)


def data_uri(path: Path) -> str:
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".svg": "image/svg+xml"}[path.suffix]
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def write_page(path: Path, table: Table, images: list[tuple[str, Path]] = (),
               notes: list[str] = (), title: str = "ctat-bench report",
               sources: list[str] = ()) -> Path:
    """Write the page to ``path``; ``images`` are (caption, PNG file) pairs, embedded."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{html.escape(title)}</title>", f"<style>{STYLE}</style>", "</head>",
             "<body>", f"<h1>{html.escape(title)}</h1>"]
    if sources:
        parts.append('<p class="notes">From ' + ", ".join(
            f"<code>{html.escape(s)}</code>" for s in sources) + "</p>")
    parts += ["<h2>Results</h2>", table_html(table)]
    if images:
        parts.append("<h2>Figures</h2>")
    for caption, image in images:
        parts.append(f'<figure><img src="{data_uri(Path(image))}" alt="{html.escape(caption)}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    if notes:
        parts.append('<h2>Notes</h2>\n<ul class="notes">'
                     + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts += ["</body>", "</html>"]
    path = Path(path)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
