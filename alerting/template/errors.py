"""TemplateError, and where in a template's text a position is, the way Go and people count it."""

from __future__ import annotations


class TemplateError(Exception):
    """A parse or execution error at a place in a template.

    `line` is 1-based; `col` is the 1-based character column (0 when Go gives no column, as for
    most parse errors); `message` is Go's message without location; `go_error` is the complete
    text Go's text/template would return, which Prometheus and Alertmanager show to users.
    """

    def __init__(self, name: str, line: int, col: int, message: str, go_error: str) -> None:
        super().__init__(f"{name}:{line}:{col}: {message}")
        self.name = name
        self.line = line
        self.col = col
        self.message = message
        self.go_error = go_error


def line_and_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and 1-based character column of offset `pos`."""
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def go_location(text: str, pos: int) -> tuple[int, int]:
    """Go's ErrorContext position: 1-based line and the 0-based byte offset within the line."""
    line_start = text.rfind("\n", 0, pos) + 1
    line = text.count("\n", 0, pos) + 1
    return line, len(text[line_start:pos].encode("utf-8", "surrogatepass"))
