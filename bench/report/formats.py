"""Table writers: a :class:`bench.report.table.Table` as CSV, Markdown or LaTeX (booktabs).

Formatting happens here and only here (precision, scale, bold, arrows, marks)::

    from bench.report.formats import TABLE_FORMATS
    text = TABLE_FORMATS.get("tex")(table)      # also "md", "csv"
    Path("reports/x/table.tex").write_text(text)

* ``csv``: raw values as recorded (full precision, unscaled), one row per model, units in the
  headers, ``KEY_ci_low``/``KEY_ci_high`` where intervals exist, ``KEY_status`` where a cell is
  not a plain value, ``KEY_reason`` with the long reason as recorded (the file looked for,
  where, how to provide it), ``KEY_other_weights`` where a value used unpublished weights; for
  spreadsheets and scripts.
* ``md``: a GitHub table, best in bold, notes below as a list.
* ``tex``: a ``table`` float with a ``tabular`` in booktabs rules (``\\usepackage{booktabs}``
  is all it needs), bounds in a block under a ``\\midrule``, notes in ``\\footnotesize`` under
  the tabular; ASCII only, every text escaped.

Markdown and LaTeX go into papers: their caption and notes carry no file-system path and no URL
(:func:`bench.report.reasons.without_locations` keeps a file's name); the CSV and the HTML page
keep the long texts.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata

from bench.precision import FP32
from bench.registry import Registry
from bench.report.reasons import without_locations
from bench.report.table import (
    INCOMPLETE,
    MARK_INCOMPLETE,
    MARK_UNAVAILABLE,
    MISSING,
    NOT_APPLICABLE,
    OK,
    UNAVAILABLE,
    Cell,
    Column,
    Table,
    scaled,
)

TABLE_FORMATS: Registry = Registry("table format")
FILE_SUFFIX = {"csv": ".csv", "md": ".md", "tex": ".tex"}


def number(value: float, column: Column, infinity: str = "inf") -> str:
    v = scaled(value, column)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return infinity if v > 0 else "-" + infinity
    return f"{v:.{column.precision}f}"


# -- CSV -----------------------------------------------------------------------------------


@TABLE_FORMATS.register("csv")
def to_csv(table: Table) -> str:
    autocast = any(row.precision != FP32 for row in table.rows)
    header = ["model", "role", "untrained", *(["precision"] if autocast else []), "pairs"]
    with_interval = [any(r.cells[j].low is not None for r in table.rows)
                     for j in range(len(table.columns))]
    with_status = [any(r.cells[j].status != OK for r in table.rows)
                   for j in range(len(table.columns))]
    with_weights = [bool(col.other_weights) for col in table.columns]
    with_reason = [any(r.cells[j].reason for r in table.rows) for j in range(len(table.columns))]
    for j, col in enumerate(table.columns):
        unit = f" ({col.record_unit})" if col.record_unit else ""
        header.append(col.key + unit)
        if with_interval[j]:
            header += [f"{col.key}_ci_low", f"{col.key}_ci_high"]
        if with_status[j]:
            header.append(f"{col.key}_status")
        if with_weights[j]:
            header.append(f"{col.key}_other_weights")  # bench.provenance
        if with_reason[j]:
            header.append(f"{col.key}_reason")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in table.rows:
        line = [row.model, "bound" if row.bound else "method", str(row.untrained).lower(),
                *([row.precision] if autocast else []), row.n]
        for j, cell in enumerate(row.cells):
            line.append("" if cell.value is None else repr(float(cell.value)))
            if with_interval[j]:
                line += ["" if cell.low is None else repr(float(cell.low)),
                         "" if cell.high is None else repr(float(cell.high))]
            if with_status[j]:
                line.append(cell.status)
            if with_weights[j]:
                line.append(str(row.model in table.columns[j].other_weights).lower())
            if with_reason[j]:
                line.append(cell.reason or "")
        writer.writerow(line)
    return out.getvalue()


# -- Markdown ------------------------------------------------------------------------------

_MD_ARROW = {"up": " ↑", "down": " ↓", "": ""}
_MD_MARK = {MARK_UNAVAILABLE: "†", MARK_INCOMPLETE: "*", None: ""}


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(cell: Cell, column: Column) -> str:
    if cell.status == UNAVAILABLE:
        return "unavailable†"
    if cell.status == NOT_APPLICABLE:
        return "n/a"
    if cell.status == MISSING:
        return "–"
    if cell.value is None:
        return "–*"
    text = number(cell.value, column, "∞")
    if cell.best:
        text = f"**{text}**"
    if cell.status == INCOMPLETE:
        text += "*"
    if cell.low is not None:
        text += f" [{number(cell.low, column, '∞')}, {number(cell.high, column, '∞')}]"
    return text


def _md_header(column: Column) -> str:
    unit = f" ({column.unit})" if column.unit else ""
    return f"{column.label}{unit}{_MD_ARROW[column.arrow]}"


@TABLE_FORMATS.register("md")
def to_markdown(table: Table) -> str:
    header = ["Model", *(_md_header(c) for c in table.columns)]
    lines = [f"**{_md_escape(without_locations(table.caption))}**", "",
             "| " + " | ".join(_md_escape(h) for h in header) + " |",
             "|" + "---|" + "---:|" * len(table.columns)]
    for row in table.rows:
        cells = [_md_escape(row.label)] + [_md_escape(_md_cell(c, col))
                                           for c, col in zip(row.cells, table.columns, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    if table.notes:
        lines.append("")
        lines += [f"- {_MD_MARK[n.mark]}{' ' if n.mark else ''}{without_locations(n.text)}"
                  for n in table.notes]
    return "\n".join(lines) + "\n"


# -- LaTeX ---------------------------------------------------------------------------------

_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
                "|": r"\textbar{}"}
_TEX_UNICODE = {"†": r"\textsuperscript{\dag}", "×": r"$\times$", "↑": r"$\uparrow$",
                "↓": r"$\downarrow$", "–": "--", "—": "---", "±": r"$\pm$", "µ": r"$\mu$",
                "≥": r"$\geq$", "≤": r"$\leq$", "∞": r"$\infty$", "²": r"\textsuperscript{2}"}
_TEX_ARROW = {"up": r" $\uparrow$", "down": r" $\downarrow$", "": ""}
_TEX_MARK = {MARK_UNAVAILABLE: r"\textsuperscript{\dag}", MARK_INCOMPLETE: r"\textsuperscript{*}",
             None: ""}


def tex_escape(text: str) -> str:
    """Plain text -> LaTeX that compiles with no package beyond the kernel (ASCII only)."""
    out = []
    for ch in str(text):
        if ch in _TEX_SPECIAL:
            out.append(_TEX_SPECIAL[ch])
        elif ch in _TEX_UNICODE:
            out.append(_TEX_UNICODE[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
                       or "?")
    # let long paths break at their slashes: LaTeX would otherwise overflow the line
    return re.sub(r"\S{24,}", lambda m: m.group(0).replace("/", "/\\allowbreak{}"), "".join(out))


def _tex_cell(cell: Cell, column: Column) -> str:
    if cell.status == UNAVAILABLE:
        return r"unavail.\textsuperscript{\dag}"
    if cell.status == NOT_APPLICABLE:
        return "n/a"
    if cell.status == MISSING:
        return "--"
    if cell.value is None:
        return r"--\textsuperscript{*}"
    text = number(cell.value, column, r"$\infty$")
    if cell.best:
        text = rf"\textbf{{{text}}}"
    if cell.status == INCOMPLETE:
        text += r"\textsuperscript{*}"
    if cell.low is not None:
        lo, hi = number(cell.low, column, r"$\infty$"), number(cell.high, column, r"$\infty$")
        text += rf" {{\scriptsize[{lo}, {hi}]}}"
    return text


def _tex_header(column: Column) -> str:
    unit = f" ({tex_escape(column.unit)})" if column.unit else ""
    return f"{tex_escape(column.label)}{unit}{_TEX_ARROW[column.arrow]}"


def _tex_row(cells: list[str]) -> str:
    return " & ".join(cells) + r" \\"


@TABLE_FORMATS.register("tex")
def to_latex(table: Table, label: str = "tab:bench") -> str:
    lines = [
        "% generated by `python -m bench report` from results records; do not edit by hand",
        r"% needs \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex_escape(without_locations(table.caption))}}}",
        rf"\label{{{label}}}",
        r"\begin{tabular}{l" + "r" * len(table.columns) + "}",
        r"\toprule",
        _tex_row(["Model", *(_tex_header(c) for c in table.columns)]),
        r"\midrule",
    ]
    previous_bound = None
    for row in table.rows:
        if previous_bound is False and row.bound:
            lines.append(r"\midrule")
        previous_bound = row.bound
        lines.append(_tex_row([tex_escape(row.label)] + [
            _tex_cell(c, col) for c, col in zip(row.cells, table.columns, strict=True)]))
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.notes:
        lines += [r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize"]
        lines += [f"{_TEX_MARK[n.mark]}{' ' if n.mark else ''}"
                  f"{tex_escape(without_locations(n.text))}\\par" for n in table.notes]
        lines.append(r"\end{minipage}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_tables(table: Table, out_dir, formats=("csv", "md", "tex"), stem: str = "table",
                 label: str = "tab:bench"):
    """Write ``table`` in each format to ``out_dir/stem.SUFFIX``; returns the paths."""
    from pathlib import Path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        name = TABLE_FORMATS.canonical(fmt)
        writer = TABLE_FORMATS.get(name)
        text = writer(table, label=label) if name == "tex" else writer(table)
        path = out_dir / f"{stem}{FILE_SUFFIX[name]}"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
