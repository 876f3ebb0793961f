"""The errors a user can cause. The CLI turns each into one line and a non-zero exit status."""


class KanjinumError(ValueError):
    """Base class: a mistake in what the user asked for, never a bug. A ValueError, so that
    code calling the library can catch it as it catches numpy's and Python's value errors."""


class DataError(KanjinumError):
    """A data file that is missing, unreadable or not in the book's line format."""


class VocabError(KanjinumError):
    """Text holding a character that the model's vocabulary does not know."""


class RunError(KanjinumError):
    """A run folder that is missing, incomplete or inconsistent."""


class OptionError(KanjinumError):
    """An option value that cannot work (a size of 0, a batch larger than the data)."""


# How like a known option a mistyped one must be for it to be suggested (difflib's ratio):
# --epoch gets --epochs (0.93), --dta --data (0.91); click's own 0.6 offered --out for --bogus.
NEAR_OPTION = 0.75


def counted(n: int, noun: str) -> str:
    """'1 test line', '4,990 test lines': a message's count and its noun."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def shortened(text: str, keep: int = 30) -> str:
    """text, or its start and end around an ellipsis: an error line stays one line."""
    if len(text) <= keep:
        return text
    return f"{text[:keep // 2]}…{text[-(keep // 2):]}"


def shell_word(path) -> str:
    """A path as a command in a message writes it: quoted where it holds a space or another
    character the shell would read (`--out 'runs/my run'`), so that the advice can be pasted."""
    import shlex

    return shlex.quote(str(path))


def stray_space(path) -> str:
    """For a file or folder not found whose name has a space at an end, where the name without
    it is there (`--data "data/kanji.txt "`, a paste inside quotes): the message printed the
    name with its space, which no one sees, and nothing else."""
    import os

    name = os.fspath(path)
    if name != name.strip() and name.strip() and os.path.exists(name.strip()):
        end = "ends" if name != name.rstrip() else "begins"
        return f" (its name {shell_word(name)} {end} with a space; {name.strip()} is there)"
    return ""


def read_as_utf8(text: str, encoding: str) -> str:
    """text as its bytes read as UTF-8, where they are UTF-8 that a locale of another encoding
    decoded: under LC_ALL=C without Python's UTF-8 mode (or PYTHONIOENCODING=ascii) a typed
    一 came as three stand-ins and was called 'not UTF-8 text (bytes e4 b8 80 …)', and in a
    Latin-1 locale as 'ä¸\\x80'. encoding is the one that decoded text (the locale's, for the
    command line; the input's, for stdin). Bytes that are no UTF-8 (a Shift-JIS or EUC-JP
    locale's own, a Latin-1 é) are left as that encoding read them."""
    if text.isascii():
        return text
    try:
        return text.encode(encoding, "surrogateescape").decode("utf-8")
    except (UnicodeError, LookupError):
        return text


def not_utf8(text: str) -> str | None:
    """Why text is not what was typed, or None: bytes that were not UTF-8 (a terminal or a file
    in another encoding) reach Python as stand-in characters, U+DC80..U+DCFF, which an error
    would name as if they had been typed."""
    raw = bytes(ord(c) - 0xDC00 for c in text if 0xDC80 <= ord(c) <= 0xDCFF)
    if not raw:
        return None
    return (f"the input is not UTF-8 text (bytes {raw[:8].hex(' ')}{' …' if len(raw) > 8 else ''}"
            " cannot be read as characters); type it in UTF-8")


def number_as_meant(typed: str, whole: bool) -> str:
    """How to write a number an option refused as typed, or "": `--lr 1,5` (a decimal comma, as
    typed in many locales) is `1.5`, `--size 50,000` (the thousands --help writes, 1 to
    1,000,000) is `50000`, `--size 1e4` is `10000`, and `--epochs ５` (a Japanese input method's
    full-width digits) is `5`; each was refused as 'not a number' without a word of what was
    wrong with it."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFKC", typed).strip()  # ５０ → 50, １，５ → 1,5
    how = [] if text == typed.strip() else ["in ASCII digits"]
    if not whole and text.endswith("%"):  # --target-acc 99%: the share options take 0.99
        try:
            percent = float(text[:-1].strip())
        except ValueError:
            return ""
        if not 0 <= percent <= 100:  # 150 % is no share: 'write 1.5' was refused in turn
            return ""
        return f"; write {percent / 100:g} for {percent:g} %"
    if not whole and re.fullmatch(r"[+-]?\d{1,3},\d{3}", text):
        # --clip 1,000: a decimal comma or a thousands one; 'write 1.000' guessed the first
        decimal, thousands = float(text.replace(",", ".")), float(text.replace(",", ""))
        return f"; write {decimal:g} (for a decimal comma) or {thousands:g} (for thousands)"
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+", text) and (whole or text.count(",") > 1):
        text = text.replace(",", "")
        how.append("without commas")
    elif not whole and re.fullmatch(r"[+-]?\d*,\d+([eE][+-]?\d+)?", text):
        text = re.sub(r"^([+-]?),", r"\g<1>0,", text).replace(",", ".")  # ,5 → 0.5
        how.append("with a decimal point, not a comma")
    try:
        value = float(text)
    except ValueError:
        return ""
    if whole:
        if not value.is_integer() or abs(value) > 2**53:  # 1e30 has no exact digits to show
            return ""
        text = str(int(value)) if not re.fullmatch(r"[+-]?\d+", text) else text
    elif text == typed.strip():
        return ""  # a number as it is: refused for another reason
    return f"; write {text}" + (f", {' and '.join(how)}" if how else "")


def percentage_as_share(value: float, most: float = 1) -> str:
    """For a share option given a percentage (`--target-acc 99`, `--hard-share 30`), how to
    write it, or "": it was refused as outside (0, 1] and no more. most: the option's largest
    share; a percentage beyond it (--oversample 95, at most 0.9) would be refused again."""
    # 1.5 is no percentage: a factor above 1, most likely
    if max(most, 2) <= value <= 100 * most:
        return f" (a share: for {value:g} %, write {value / 100:g})"
    return ""
