"""Go's fmt and strconv output for the values templates handle: Sprint, Sprintf, Sprintln, Quote."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alerting.template.gotypes import GoNil, go_type_name, is_struct, sorted_items, struct_fields

# ---------------------------------------------------------------- numbers


def _shortest_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a finite positive x, and the decimal point position.

    Python's repr and Go's strconv both pick the shortest string that reads back exactly, so the
    digits agree; only the layout differs.
    """
    text = repr(x)
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, frac = mantissa.partition(".")
    if frac == "0":
        frac = ""
    digits = (whole + frac).lstrip("0")
    leading_zeros = len(whole + frac) - len((whole + frac).lstrip("0"))
    dp = len(whole) + exponent - leading_zeros
    digits = digits.rstrip("0") or "0"
    return digits, dp


def _exp_suffix(exponent: int, letter: str = "e") -> str:
    sign = "-" if exponent < 0 else "+"
    return f"{letter}{sign}{abs(exponent):02d}"


def _shortest_g(x: float) -> str:
    """strconv.FormatFloat(x, 'g', -1, 64) for finite non-negative x (the sign is added by callers)."""
    if x == 0:
        return "0"
    digits, dp = _shortest_digits(x)
    exponent = dp - 1
    # strconv uses the exponent form outside 1e-4 <= x < 1e6 when asked for the shortest digits.
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return mantissa + _exp_suffix(exponent)
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _shortest_e(x: float, upper: bool) -> str:
    if x == 0:
        text = "0e+00"
    else:
        digits, dp = _shortest_digits(x)
        text = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + _exp_suffix(dp - 1)
    return text.upper() if upper else text


def _shortest_f(x: float) -> str:
    if x == 0:
        return "0"
    digits, dp = _shortest_digits(x)
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _hex_float(x: float, prec: int, upper: bool) -> str:
    """%x of a float: Go's hexadecimal mantissa with a two-digit binary exponent."""
    if x == 0:
        body = "0x0" + ("." + "0" * prec if prec > 0 else "") + "p+00"
        return body.upper().replace("0X", "0X") if upper else body
    # Normalised like Go even for subnormals, where float.hex() would print 0x0.000...p-1022.
    fraction, exponent = math.frexp(abs(x))
    whole, frac = "1", f"{int((fraction * 2 - 1) * (1 << 52)):013x}"
    exponent -= 1
    if prec < 0:
        frac = frac.rstrip("0")
    else:
        bits = int(whole + frac, 16)
        shift = 4 * (len(frac) - prec)
        if shift > 0:
            half = 1 << (shift - 1)
            rem = bits & ((1 << shift) - 1)
            bits >>= shift
            if rem > half or (rem == half and bits & 1):
                bits += 1
        else:
            bits <<= -shift
        if bits >> (4 * prec) >= 2:
            bits >>= 1
            exponent += 1
        digits = f"{bits:x}".rjust(prec + 1, "0")
        whole, frac = digits[0], digits[1:]
    body = f"0x{whole}" + (f".{frac}" if frac else "") + "p" + ("-" if exponent < 0 else "+")
    body += f"{abs(exponent):02d}"
    return body.upper() if upper else body


def format_float(x: float, verb: str, prec: int = -1) -> str:
    """strconv.FormatFloat(x, verb, prec, 64) for verbs e, E, f, F, g, G, x, X."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    x = abs(x)
    lower = verb.lower()
    if lower == "x":
        return sign + _hex_float(x, prec, verb == "X")
    if prec < 0:
        if lower == "e":
            body = _shortest_e(x, verb == "E")
        elif lower == "f":
            body = _shortest_f(x)
        else:
            body = _shortest_g(x)
            if verb == "G":
                body = body.upper()
        return sign + body
    if lower == "g":
        body = format(x, f".{max(prec, 1)}{verb}")
    else:
        body = format(x, f".{prec}{'F' if verb == 'F' else verb}")
    return sign + body


def format_float_v(x: float) -> str:
    """Go's %v of a float64, as `{{ $value }}` prints it: 1e+06, 3, NaN, +Inf, -0."""
    if x == 0 or math.isnan(x) or math.isinf(x):
        return format_float(x, "g")
    text = _shortest_g(abs(x))
    return text if x > 0 else "-" + text


# ---------------------------------------------------------------- strings


_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


def _quote_rune(ch: str, quote: str, ascii_only: bool) -> str:
    if ch == quote:
        return "\\" + ch
    if ch in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[ch]
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return "\\ufffd"
    printable = ch == " " or ch.isprintable()
    if printable and (code < 0x80 or not ascii_only):
        return ch
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quote(text: str, ascii_only: bool = False) -> str:
    """strconv.Quote (or QuoteToASCII)."""
    return '"' + "".join(_quote_rune(ch, '"', ascii_only) for ch in text) + '"'


def quote_rune(code: int) -> str:
    """strconv.QuoteRune."""
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        code = 0xFFFD
    return "'" + _quote_rune(chr(code), "'", False) + "'"


# ---------------------------------------------------------------- %v of any value


def format_value(value: object, top: bool = True) -> str:
    """fmt's %v of a value; `top` is false inside containers, where pointers print as addresses."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return format_float_v(value)  # type: ignore[arg-type]
    return _format_other(value, "v", top)


def _format_other(value: object, verb: str, top: bool) -> str:
    if value is None or isinstance(value, GoNil):
        return "<nil>"
    stringer = getattr(value, "go_string", None)
    if stringer is not None:
        return stringer()
    if isinstance(value, dict):
        inner = " ".join(
            f"{_format_elem(k, verb)}:{_format_elem(v, verb)}" for k, v in sorted_items(value)
        )
        return f"map[{inner}]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_format_elem(v, verb) for v in value) + "]"
    if is_struct(value):
        inner = " ".join(_format_elem(v, verb) for v in struct_fields(value))
        body = "{" + inner + "}"
        if getattr(value, "go_pointer", False):
            return "&" + body if top else "0xc000010000"
        return body
    return str(value)


def _format_elem(value: object, verb: str) -> str:
    if verb == "v":
        return format_value(value, top=False)
    return format_verb(value, verb, _NO_FLAGS, top=False)


# ---------------------------------------------------------------- Sprintf


@dataclass(frozen=True, slots=True)
class Flags:
    minus: bool = False
    plus: bool = False
    sharp: bool = False
    space: bool = False
    zero: bool = False
    width: int | None = None
    prec: int | None = None


_NO_FLAGS = Flags()


def _pad(text: str, flags: Flags, numeric: bool = False) -> str:
    width = flags.width
    if width is None or len(text) >= width:
        return text
    fill = width - len(text)
    if flags.minus:
        return text + " " * fill
    if flags.zero and numeric and text[:1] in "+- " and text[:1] != "":
        return text[0] + "0" * fill + text[1:]
    if flags.zero:
        return "0" * fill + text
    return " " * fill + text


def _bad_verb(value: object, verb: str) -> str:
    if value is None or isinstance(value, GoNil):
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(value)}={format_value(value)})"


def _sign(text: str, negative: bool, flags: Flags) -> str:
    if negative:
        return "-" + text
    if flags.plus:
        return "+" + text
    if flags.space:
        return " " + text
    return text


_INT_BASES: dict[str, Callable[[int], str]] = {
    "d": str,
    "v": str,
    "b": lambda n: format(n, "b"),
    "o": lambda n: format(n, "o"),
    "O": lambda n: "0o" + format(n, "o"),
    "x": lambda n: format(n, "x"),
    "X": lambda n: format(n, "X"),
}


def _format_int(n: int, verb: str, flags: Flags) -> str:
    if verb == "c":
        return _pad(chr(n) if 0 <= n <= 0x10FFFF else "\ufffd", flags)
    if verb == "q":
        return _pad(quote_rune(n), flags)
    if verb == "U":
        text = f"U+{n:04X}" if n >= 0 else f"U+{n & 0xFFFFFFFFFFFFFFFF:04X}"
        return _pad(text, flags)
    if verb in "eEfFgG":
        return _format_float(float(n), verb, flags)
    if verb not in _INT_BASES:
        return _bad_verb(n, verb)
    digits = _INT_BASES[verb](abs(n))
    if flags.prec is not None:
        digits = digits.rjust(flags.prec, "0") if flags.prec or n else ""
    if flags.sharp:
        digits = {"x": "0x", "X": "0X", "o": "0", "b": "0b"}.get(verb, "") + digits
    text = _sign(digits, n < 0, flags)
    if flags.zero and not flags.minus and flags.prec is None and flags.width:
        return (
            _pad(text, flags, numeric=True) if text[:1] in "+- " else text.rjust(flags.width, "0")
        )
    return _pad(text, Flags(minus=flags.minus, width=flags.width))


def _format_float(x: float, verb: str, flags: Flags) -> str:
    if verb == "v":
        verb = "g"
    if verb not in "eEfFgGxX":
        return _bad_verb(x, verb)
    prec = -1 if flags.prec is None else flags.prec
    if prec < 0 and verb in "eEfF":
        prec = 6
    text = format_float(x, verb, prec)
    if flags.sharp and verb in "gG" and "." not in text and "e" not in text.lower():
        text += "."
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    if text in ("NaN", "Inf") or text == "+Inf":
        inf_sign = "+" if text == "+Inf" else ""
        body = text.lstrip("+")
        if negative:
            body = "-" + body
        elif inf_sign or flags.plus:
            body = "+" + body
        elif flags.space:
            body = " " + body
        return _pad(body, Flags(minus=flags.minus, width=flags.width))
    text = _sign(text, negative, flags)
    if flags.zero and not flags.minus and flags.width:
        if text[:1] in "+- ":
            return text[0] + text[1:].rjust(flags.width - 1, "0")
        return text.rjust(flags.width, "0")
    return _pad(text, flags)


def _format_string(text: str, verb: str, flags: Flags) -> str:
    if verb in "vs":
        if flags.prec is not None:
            text = text[: flags.prec]
        return _pad(text, flags)
    if verb == "q":
        if flags.prec is not None:
            text = text[: flags.prec]
        if flags.sharp and "`" not in text and all(c == "\t" or c.isprintable() for c in text):
            return _pad("`" + text + "`", flags)
        return _pad(quote(text, ascii_only=flags.plus), flags)
    if verb in "xX":
        data = text.encode()
        if flags.prec is not None:
            data = data[: flags.prec]
        digits = [format(b, "02x" if verb == "x" else "02X") for b in data]
        prefix = ("0x" if verb == "x" else "0X") if flags.sharp else ""
        if flags.space:
            return _pad(" ".join(prefix + d for d in digits), flags)
        return _pad(prefix + "".join(digits), flags)
    return _bad_verb(text, verb)


def format_verb(value: object, verb: str, flags: Flags, top: bool = True) -> str:
    """One operand formatted under one verb, as fmt's printArg does."""
    if verb == "T":
        nil = value is None or (isinstance(value, GoNil) and value.type_name == "interface {}")
        return _pad("<nil>" if nil else go_type_name(value), flags)
    kind = type(value)
    if kind is bool:
        if verb in "vt":
            return _pad("true" if value else "false", flags)
        return _bad_verb(value, verb)
    if kind is int:
        return _format_int(value, verb, flags)  # type: ignore[arg-type]
    if kind is float:
        return _format_float(value, verb, flags)  # type: ignore[arg-type]
    if kind is str:
        return _format_string(value, verb, flags)  # type: ignore[arg-type]
    if value is None or isinstance(value, GoNil):
        return _pad("<nil>", flags) if verb == "v" else f"%!{verb}(<nil>)"
    stringer = getattr(value, "go_string", None)
    if stringer is not None and verb in "vsqxX":
        return _format_string(stringer(), verb, flags)
    composite = isinstance(value, dict | list | tuple) or is_struct(value)
    if composite and verb in "vsqdxXfegtbo":
        return _pad(_format_other(value, verb, top), flags)
    if verb == "v":
        return _pad(_format_other(value, verb, top), flags)
    return _bad_verb(value, verb)


def _go_syntax(value: object) -> str:
    """%#v for the values templates pass around."""
    if type(value) is str:
        return quote(value)
    if value is None:
        return "<nil>"
    return format_value(value)


def _parse_number(fmt: str, i: int) -> tuple[int | None, int]:
    start = i
    while i < len(fmt) and fmt[i].isdigit():
        i += 1
    return (int(fmt[start:i]) if i > start else None), i


def sprintf(fmt: str, args: Sequence[object]) -> str:
    """fmt.Sprintf with Go's verbs, flags, width, precision, %!verb(...) and MISSING/EXTRA notes."""
    out: list[str] = []
    arg_num = 0
    i = 0
    n = len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        minus = plus = sharp = space = zero = False
        while i < n and fmt[i] in "-+# 0":
            c = fmt[i]
            minus |= c == "-"
            plus |= c == "+"
            sharp |= c == "#"
            space |= c == " "
            zero |= c == "0"
            i += 1
        zero = zero and not minus
        width: int | None
        if i < n and fmt[i] == "*":
            i += 1
            width, arg_num = _star_arg(args, arg_num)
            if width is not None and width < 0:
                minus, width = True, -width
            if width is None:
                out.append("%!(BADWIDTH)")
        else:
            width, i = _parse_number(fmt, i)
        prec: int | None = None
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                prec, arg_num = _star_arg(args, arg_num)
                if prec is not None and prec < 0:
                    prec = None
                if prec is None:
                    out.append("%!(BADPREC)")
            else:
                prec, i = _parse_number(fmt, i)
                prec = prec or 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if arg_num >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        if verb == "v":
            # For %v, '+' and '#' ask for field names and Go syntax rather than a sign.
            if sharp:
                out.append(_go_syntax(args[arg_num]))
                arg_num += 1
                continue
            plus = False
        flags = Flags(minus, plus, sharp, space, zero, width, prec)
        out.append(format_verb(args[arg_num], verb, flags))
        arg_num += 1
    if arg_num < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type_name(a)}={format_value(a)}" for a in args[arg_num:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _star_arg(args: Sequence[object], arg_num: int) -> tuple[int | None, int]:
    if arg_num >= len(args):
        return None, arg_num
    value = args[arg_num]
    if type(value) is not int:
        return None, arg_num + 1
    return value, arg_num + 1


def sprint(args: Sequence[object]) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    out: list[str] = []
    prev_string = True
    for index, arg in enumerate(args):
        is_string = type(arg) is str
        if index > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg))
        prev_string = is_string
    return "".join(out)


def sprintln(args: Sequence[object]) -> str:
    """fmt.Sprintln: always a space between operands, and a newline at the end."""
    return " ".join(format_value(a) for a in args) + "\n"
