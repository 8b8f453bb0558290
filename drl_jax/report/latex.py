"""Tables as LaTeX fragments: a booktabs `tabular`, ready to `\\input` inside a table float."""

from __future__ import annotations

from collections.abc import Sequence

# Characters LaTeX reads as commands, in text mode.
_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
ARROW = r"$\rightarrow$"


def escape(text: str) -> str:
    """`text` safe in LaTeX text mode; '->' becomes a right arrow."""
    escaped = "".join(_ESCAPES.get(char, char) for char in text)
    return escaped.replace("->", ARROW)


def tabular(table: Sequence[Sequence[str]]) -> str:
    """A header row and body rows as `\\begin{tabular}{lr...r}` with booktabs rules.

    The first column (labels) is left-aligned, the others (numbers) right-aligned; no
    `table` environment, so the caller chooses caption and placement.
    """
    header, *body = table
    if any(len(row) != len(header) for row in body):
        raise ValueError(f"Rows of {[len(r) for r in body]} cells under a header of {len(header)}.")

    def line(row):
        return " & ".join(escape(cell) for cell in row) + r" \\"

    spec = "l" + "r" * (len(header) - 1)
    lines = [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        line(header),
        r"\midrule",
        *(line(row) for row in body),
        r"\bottomrule",
        r"\end{tabular}",
    ]
    return "\n".join(lines) + "\n"
