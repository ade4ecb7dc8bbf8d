"""Splits template text into tokens, as Go's text/template/parse lexer does (delimiters {{ }})."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from alerting.template.gofmt import quote


class T(Enum):
    ERROR = auto()
    BOOL = auto()
    CHAR = auto()  # a printable ASCII character such as ','
    CHAR_CONSTANT = auto()
    COMMENT = auto()
    COMPLEX = auto()
    ASSIGN = auto()
    DECLARE = auto()
    EOF = auto()
    FIELD = auto()
    IDENTIFIER = auto()
    LEFT_DELIM = auto()
    LEFT_PAREN = auto()
    NUMBER = auto()
    PIPE = auto()
    RAW_STRING = auto()
    RIGHT_DELIM = auto()
    RIGHT_PAREN = auto()
    SPACE = auto()
    STRING = auto()
    TEXT = auto()
    VARIABLE = auto()
    # Keywords (Go prints them as <name>).
    BLOCK = auto()
    BREAK = auto()
    CONTINUE = auto()
    DOT = auto()
    DEFINE = auto()
    ELSE = auto()
    END = auto()
    IF = auto()
    NIL = auto()
    RANGE = auto()
    TEMPLATE = auto()
    WITH = auto()


KEYWORDS = {
    "block": T.BLOCK,
    "break": T.BREAK,
    "continue": T.CONTINUE,
    "define": T.DEFINE,
    "else": T.ELSE,
    "end": T.END,
    "if": T.IF,
    "nil": T.NIL,
    "range": T.RANGE,
    "template": T.TEMPLATE,
    "with": T.WITH,
}
_KEYWORD_TYPES = {*KEYWORDS.values(), T.DOT}

SPACE_CHARS = " \t\r\n"
LEFT, RIGHT = "{{", "}}"


@dataclass(frozen=True, slots=True)
class Token:
    type: T
    value: str
    pos: int
    line: int

    def __str__(self) -> str:
        """Go's item.String(), used in "unexpected ..." messages."""
        if self.type is T.EOF:
            return "EOF"
        if self.type is T.ERROR:
            return self.value
        if self.type in _KEYWORD_TYPES:
            return f"<{self.value}>"
        if len(self.value.encode()) > 10:
            return quote(self.value[:10]) + "..."
        return quote(self.value)


def describe_rune(ch: str) -> str:
    """Go's %#U: U+0023 '#'."""
    code = ord(ch)
    if ch.isprintable():
        return f"U+{code:04X} '{ch}'"
    return f"U+{code:04X}"


def is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdecimal()


class _Lexer:
    def __init__(self, text: str, break_ok: bool, continue_ok: bool) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.paren_depth = 0
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self.tokens: list[Token] = []
        self.failed = False

    # -- helpers

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
            if ch == "\n":
                self.line += 1
        return ch

    def backup(self) -> None:
        self.pos -= 1
        if self.text[self.pos] == "\n":
            self.line -= 1

    def emit(self, kind: T) -> None:
        self.tokens.append(
            Token(kind, self.text[self.start : self.pos], self.start, self.start_line)
        )
        self.ignore()

    def ignore(self) -> None:
        self.start = self.pos
        self.start_line = self.line

    def error(self, message: str) -> None:
        self.tokens.append(Token(T.ERROR, message, self.start, self.start_line))
        self.failed = True

    def skip_to(self, pos: int) -> None:
        """Moves forward without emitting, keeping the line count."""
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos

    def at_right_delim(self) -> tuple[bool, bool]:
        rest = self.text
        p = self.pos
        if (
            p + 1 < len(rest)
            and rest[p] in SPACE_CHARS
            and rest[p + 1] == "-"
            and rest.startswith(RIGHT, p + 2)
        ):
            return True, True
        return rest.startswith(RIGHT, p), False

    def at_terminator(self) -> bool:
        ch = self.peek()
        if ch == "" or ch in SPACE_CHARS or ch in ".,|:)(":
            return True
        return self.text.startswith(RIGHT, self.pos)

    # -- states

    def run(self) -> list[Token]:
        state = self.lex_text
        while state is not None and not self.failed:
            state = state()
        return self.tokens

    def lex_text(self):
        x = self.text.find(LEFT, self.pos)
        if x < 0:
            self.skip_to(len(self.text))
            if self.pos > self.start:
                self.emit(T.TEXT)
            self.emit(T.EOF)
            return None
        trim = 0
        after = self.text[x + 2 : x + 4]
        if len(after) == 2 and after[0] == "-" and after[1] in SPACE_CHARS:
            segment = self.text[self.start : x]
            trim = len(segment) - len(segment.rstrip(SPACE_CHARS))
        self.skip_to(x - trim)
        if self.pos > self.start:
            self.emit(T.TEXT)
        self.skip_to(x)
        self.ignore()
        return self.lex_left_delim

    def lex_left_delim(self):
        self.skip_to(self.pos + len(LEFT))
        after = self.text[self.pos : self.pos + 2]
        trim = len(after) == 2 and after[0] == "-" and after[1] in SPACE_CHARS
        after_marker = 2 if trim else 0
        if self.text.startswith("/*", self.pos + after_marker):
            self.skip_to(self.pos + after_marker)
            self.ignore()
            return self.lex_comment
        self.emit(T.LEFT_DELIM)
        self.skip_to(self.pos + after_marker)
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self):
        self.skip_to(self.pos + 2)
        end = self.text.find("*/", self.pos)
        if end < 0:
            self.error("unclosed comment")
            return None
        self.skip_to(end + 2)
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            return None
        self.ignore()
        if trim:
            self.skip_to(self.pos + 2)
        self.skip_to(self.pos + len(RIGHT))
        if trim:
            rest = self.text[self.pos :]
            self.skip_to(self.pos + len(rest) - len(rest.lstrip(SPACE_CHARS)))
        self.ignore()
        return self.lex_text

    def lex_right_delim(self):
        _, trim = self.at_right_delim()
        if trim:
            self.skip_to(self.pos + 2)
            self.ignore()
        self.skip_to(self.pos + len(RIGHT))
        self.emit(T.RIGHT_DELIM)
        if trim:
            rest = self.text[self.pos :]
            self.skip_to(self.pos + len(rest) - len(rest.lstrip(SPACE_CHARS)))
            self.ignore()
        return self.lex_text

    def lex_inside_action(self):
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
            return None
        ch = self.next()
        if ch == "":
            self.error("unclosed action")
            return None
        if ch in SPACE_CHARS:
            self.backup()
            return self.lex_space
        if ch == "=":
            self.emit(T.ASSIGN)
        elif ch == ":":
            if self.next() != "=":
                self.error("expected :=")
                return None
            self.emit(T.DECLARE)
        elif ch == "|":
            self.emit(T.PIPE)
        elif ch == '"':
            return self.lex_quote
        elif ch == "`":
            return self.lex_raw_quote
        elif ch == "$":
            return self.lex_variable
        elif ch == "'":
            return self.lex_char
        elif ch == "." and not ("0" <= self.peek() <= "9" and self.peek() != ""):
            return self.lex_field
        elif ch in "+-." or "0" <= ch <= "9":
            self.backup()
            return self.lex_number
        elif is_alnum(ch):
            self.backup()
            return self.lex_identifier
        elif ch == "(":
            self.emit(T.LEFT_PAREN)
            self.paren_depth += 1
        elif ch == ")":
            self.emit(T.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error(f"unexpected right paren {describe_rune(ch)}")
                return None
        elif ord(ch) < 0x7F and ch.isprintable():
            self.emit(T.CHAR)
        else:
            self.error(f"unrecognized character in action: {describe_rune(ch)}")
            return None
        return self.lex_inside_action

    def lex_space(self):
        count = 0
        while self.peek() != "" and self.peek() in SPACE_CHARS:
            self.next()
            count += 1
        p = self.pos - 1
        if self.text[p + 1 : p + 2] == "-" and self.text.startswith(RIGHT, p + 2):
            self.backup()
            if count == 1:
                return self.lex_right_delim
        self.emit(T.SPACE)
        return self.lex_inside_action

    def lex_identifier(self):
        while is_alnum(self.peek()) and self.peek() != "":
            self.next()
        word = self.text[self.start : self.pos]
        if not self.at_terminator():
            self.error(f"bad character {describe_rune(self.peek())}")
            return None
        kind = KEYWORDS.get(word)
        if kind is not None:
            if (kind is T.BREAK and not self.break_ok) or (
                kind is T.CONTINUE and not self.continue_ok
            ):
                kind = T.IDENTIFIER
            self.emit(kind)
        elif word in ("true", "false"):
            self.emit(T.BOOL)
        else:
            self.emit(T.IDENTIFIER)
        return self.lex_inside_action

    def lex_field(self):
        return self.lex_field_or_variable(T.FIELD)

    def lex_variable(self):
        if self.at_terminator():
            self.emit(T.VARIABLE)
            return self.lex_inside_action
        return self.lex_field_or_variable(T.VARIABLE)

    def lex_field_or_variable(self, kind: T):
        if self.at_terminator():
            self.emit(T.VARIABLE if kind is T.VARIABLE else T.DOT)
            return self.lex_inside_action
        while self.peek() != "" and is_alnum(self.peek()):
            self.next()
        if not self.at_terminator():
            self.error(f"bad character {describe_rune(self.peek() or chr(0))}")
            return None
        self.emit(kind)
        return self.lex_inside_action

    def lex_quoted(self, closing: str, kind: T, message: str):
        while True:
            ch = self.next()
            if ch == "\\" and closing != "`":
                ch = self.next()
                if ch not in ("", "\n"):
                    continue
            if ch == "" or (ch == "\n" and closing != "`"):
                self.error(message)
                return None
            if ch == closing:
                break
        self.emit(kind)
        return self.lex_inside_action

    def lex_char(self):
        return self.lex_quoted("'", T.CHAR_CONSTANT, "unterminated character constant")

    def lex_quote(self):
        return self.lex_quoted('"', T.STRING, "unterminated quoted string")

    def lex_raw_quote(self):
        return self.lex_quoted("`", T.RAW_STRING, "unterminated raw quoted string")

    def lex_number(self):
        if not self.scan_number():
            self.error(f"bad number syntax: {quote(self.text[self.start : self.pos])}")
            return None
        if self.peek() in ("+", "-") and self.peek() != "":
            if not self.scan_number() or self.text[self.pos - 1] != "i":
                self.error(f"bad number syntax: {quote(self.text[self.start : self.pos])}")
                return None
            self.emit(T.COMPLEX)
        else:
            self.emit(T.NUMBER)
        return self.lex_inside_action

    def accept(self, valid: str) -> bool:
        if self.peek() != "" and self.peek() in valid:
            self.next()
            return True
        return False

    def accept_run(self, valid: str) -> None:
        while self.peek() != "" and self.peek() in valid:
            self.next()

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if self.peek() != "" and is_alnum(self.peek()):
            self.next()
            return False
        return True


def lex(text: str, break_ok: bool = True, continue_ok: bool = True) -> list[Token]:
    """All tokens of `text`, ending with EOF or with the first ERROR token."""
    return _Lexer(text, break_ok, continue_ok).run()
