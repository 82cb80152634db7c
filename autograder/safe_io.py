"""Reading what a submission hands us, and showing text that came from it, without trusting either.

Files. A submission folder is written by students (or by an exchange or an archive they filled), so a
file in it may be a symbolic link (to the instructor's source notebook, to ``/dev/zero``), a FIFO that
blocks whoever opens it, a device, or a regular file of any size. :func:`read_inside` reads a file
below a folder by walking each path component with ``O_NOFOLLOW`` from a descriptor of the folder (no
symbolic link is followed anywhere, no ``..``), opens the file itself with ``O_NONBLOCK`` (a FIFO
cannot block the open), checks with ``fstat`` that it is a regular file, and reads at most its size
cap. :func:`read_regular` does the same for one path given on the command line (its last component
only: the folders above were chosen by the person typing it). Anything else raises
:class:`UnsafeFile` with a one-line reason.

JSON. :func:`loads_bounded` parses text that came from a submission (a notebook, a message of the
sandboxed process) with its cost bounded before parsing starts: the text's length is capped, and the
number of values it can hold is bounded from above by counting its ``[``, ``{`` and ``,`` bytes (a C
loop) so that a short text cannot become tens of millions of objects; nesting is capped too.

Text. :func:`neutral` makes text from a submission safe to show on a terminal (control characters,
escape sequences and bidirectional overrides become visible escapes); :func:`csv_cell` makes a
field safe for a spreadsheet (OWASP's CSV-injection rule).
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

#: Largest notebook read from a submission (the default of ``--max-notebook-mb``).
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
#: Largest ``timestamp.txt`` read (nbgrader writes about 30 bytes).
MAX_TIMESTAMP_BYTES = 256
#: Deepest nesting of JSON accepted from a submission.
MAX_JSON_DEPTH = 64
#: Values (containers, scalars) one parsed JSON text may hold at most.
MAX_JSON_ITEMS = 2_000_000

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC


class UnsafeFile(ValueError):
    """A submission file the grader will not read; the message says why, in a line."""


class TooBig(UnsafeFile):
    """A regular file over its size cap."""


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def _read_fd(fd: int, name: str, max_bytes: int) -> bytes:
    """Check that ``fd`` is a regular file of at most ``max_bytes`` and read it (never more)."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"{name} is not a file the grader reads (it is {_kind(info.st_mode)}; only regular "
                         f"files are read)")
    if info.st_size > max_bytes:
        raise TooBig(f"{name} is {_mb(info.st_size)}; the grader reads at most {_mb(max_bytes)}")
    os.set_blocking(fd, True)
    chunks, size = [], 0
    while size <= max_bytes:
        chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > max_bytes:  # it grew while being read
        raise TooBig(f"{name} is more than {_mb(max_bytes)}; the grader reads at most {_mb(max_bytes)}")
    return b"".join(chunks)


def _open_error(name: str, err: OSError) -> UnsafeFile:
    import errno

    if err.errno == errno.ELOOP:
        return UnsafeFile(f"{name} is a symbolic link; the grader does not follow links")
    if err.errno == errno.ENOTDIR:
        return UnsafeFile(f"a folder on the way to {name} is not a folder")
    if err.errno == errno.ENOENT:
        return UnsafeFile(f"no such file: {name}")
    return UnsafeFile(f"{name} cannot be opened ({os.strerror(err.errno or 0)})")


def _parts(relative: str | Path) -> list[str]:
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise UnsafeFile(f"{relative} is not a plain path inside the submission folder")
    return list(parts)


def open_inside(folder: Path, relative: str | Path, flags: int = _FLAGS) -> int:
    """A descriptor of ``folder/relative``, reached without following any symbolic link."""
    parts = _parts(relative)
    name = "/".join(parts)
    try:
        fd = os.open(folder, _DIR_FLAGS)
    except OSError as err:
        raise _open_error(str(folder), err) from None
    try:
        for i, part in enumerate(parts[:-1]):
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                where = "/".join(parts[:i + 1])
                try:
                    mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
                except OSError:
                    raise _open_error(where, err) from None
                if stat.S_ISLNK(mode):
                    raise UnsafeFile(f"{where} is a symbolic link; the grader does not follow links") from None
                raise UnsafeFile(f"{where} is not a folder (it is {_kind(mode)})") from None
            os.close(fd)
            fd = nxt
        try:
            return os.open(parts[-1], flags, dir_fd=fd)
        except OSError as err:
            raise _open_error(name, err) from None
    finally:
        os.close(fd)


def read_inside(folder: Path, relative: str | Path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``folder/relative`` (see the module docstring), or :class:`UnsafeFile`."""
    fd = open_inside(folder, relative)
    try:
        return _read_fd(fd, "/".join(_parts(relative)), max_bytes)
    finally:
        os.close(fd)


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path`` (its last component not a link), or :class:`UnsafeFile`."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as err:
        raise _open_error(str(path), err) from None
    try:
        return _read_fd(fd, str(path), max_bytes)
    finally:
        os.close(fd)


def entry_kind(folder: Path, name: str) -> str | None:
    """``"file"`` for a regular file, a description for anything else, ``None`` if there is nothing."""
    try:
        mode = os.lstat(folder / name).st_mode
    except OSError:
        return None
    return "file" if stat.S_ISREG(mode) else _kind(mode)


# ----------------------------------------------------------------------------------------- JSON

class BadJSON(ValueError):
    """JSON the grader will not parse or take; the message says why, in a line."""


def loads_bounded(data: bytes | str, max_bytes: int, max_items: int = MAX_JSON_ITEMS,
                  max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON whose size, number of values and nesting are capped before and after parsing.

    The number of values in a JSON text is at most one more than its count of ``[``, ``{`` and
    ``,`` (commas inside strings only make the bound looser), so counting those bytes first keeps
    the parser's memory within a constant factor of ``max_items``. Raises :class:`BadJSON`.
    """
    raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise BadJSON(f"{len(raw):,} bytes of JSON; the grader accepts at most {max_bytes:,}")
    if raw.count(b"[") + raw.count(b"{") + raw.count(b",") + 1 > max_items:
        raise BadJSON(f"more than {max_items:,} JSON values")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadJSON(f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise BadJSON(f"not valid JSON ({_first_line(str(err))})") from None
    _check_depth(value, max_depth)
    return value


def _check_depth(value: Any, max_depth: int) -> None:
    stack = [(value, 0)]
    while stack:  # iterative: no recursion however deep
        v, depth = stack.pop()
        if depth > max_depth:
            raise BadJSON(f"JSON nested deeper than {max_depth} levels")
        if type(v) is dict:
            stack.extend((x, depth + 1) for x in v.values())
        elif type(v) is list:
            stack.extend((x, depth + 1) for x in v)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else "unreadable"


# ----------------------------------------------------------------------------------------- text

#: C0 and C1 controls (but tab and newline), DEL, and Unicode's bidirectional and invisible format
#: characters ("Trojan source"), which reorder or hide what a terminal or an editor shows.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
                     "\ud800-\udfff]")


def _visible(m: re.Match) -> str:
    c = m.group(0)
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def neutral(text: str, newlines: bool = True) -> str:
    """``text`` with every control character, escape sequence introducer, bidirectional override
    and lone surrogate shown as a visible escape (``\\x1b``, ``\\u202e``); newlines kept unless
    ``newlines`` is false (then shown as ``\\n`` too)."""
    text = _UNSAFE.sub(_visible, str(text))
    return text if newlines else text.replace("\n", "\\n").replace("\t", "\\t")


#: First characters a spreadsheet takes as the start of a formula (OWASP, CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: Any) -> Any:
    """A CSV field safe for spreadsheets: text starting like a formula gets a leading ``'`` (OWASP).

    Numbers stay numbers. Text is also neutralised (no control characters).
    """
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = neutral(str(value), newlines=False)
    return "'" + text if text.startswith(_FORMULA_START) else text
