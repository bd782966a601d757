"""The LaTeX table compiles with a real engine (Debian: texlive-latex-base and
texlive-latex-recommended for booktabs; .ci/run installs them). Skips, saying so, without one."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from report_helpers import FIXTURE_RUN

from bench.report.build import device_names
from bench.report.formats import to_latex
from bench.report.runs import load_run, merge_runs
from bench.report.table import TableOptions, build_table

ENGINE = shutil.which("pdflatex")
DOCUMENT = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage{booktabs}
\setlength{\textwidth}{24cm}\setlength{\oddsidemargin}{-2cm}\pdfpagewidth=28cm
\begin{document}
\input{table.tex}
\end{document}
"""


def _missing_packages() -> str | None:
    if ENGINE is None:
        return "no LaTeX engine: pdflatex not on PATH (apt-get install texlive-latex-base " \
               "texlive-latex-recommended; .ci/run does)"
    found = subprocess.run(["kpsewhich", "booktabs.sty"], capture_output=True, text=True,
                           check=False).stdout.strip()
    if not found:
        return "pdflatex found, but booktabs.sty missing (apt-get install " \
               "texlive-latex-recommended)"
    return None


@pytest.mark.skipif(_missing_packages() is not None, reason=str(_missing_packages()))
@pytest.mark.parametrize("intervals", [True, False])
def test_table_compiles_with_pdflatex(tmp_path, intervals):
    merged = merge_runs([load_run(FIXTURE_RUN)])
    table = build_table(merged.records, TableOptions(intervals=intervals), device_names(merged))
    (tmp_path / "table.tex").write_text(to_latex(table))
    (tmp_path / "doc.tex").write_text(DOCUMENT)
    proc = subprocess.run([ENGINE, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    log = (tmp_path / "doc.log").read_text(errors="replace") if (tmp_path / "doc.log").exists() \
        else proc.stdout
    assert proc.returncode == 0, log[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000
    assert "Undefined control sequence" not in log and "Missing character" not in log
