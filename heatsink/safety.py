"""Guards for files that come from outside: what the line reads is bounded and refused by name.

Every command that reads a user's file goes through these:

- :func:`read_regular_file` reads only a regular file (a FIFO, a device, a socket or a
  folder is refused by name, without blocking on it) and only up to a byte limit;
- :func:`image_size` reads an image's width and height from its header (Pillow), before
  anything is decoded, and :func:`check_pixels` refuses a decompression bomb;
- :func:`load_yaml` parses YAML with PyYAML's safe loader, refusing duplicate keys and
  alias expansion beyond a bound (a "billion laughs" file), with error messages cut to
  :data:`MAX_MESSAGE` characters (:func:`shorten`);
- :func:`neutralise_cell` keeps a text cell of a CSV report from being read as a formula
  by a spreadsheet (OWASP's CSV-injection advice), and :func:`printable` turns a file name
  that is not valid UTF-8 into text that can be printed and written.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path
from typing import Any

import yaml

from heatsink.errors import DatasetError, HeatsinkError

#: Largest image the line decodes, in pixels (width × height): 40 million, about 120 MB as
#: 8-bit RGB. A frame is 320×320; a larger image is refused before it is decoded.
MAX_IMAGE_PIXELS: int = 40_000_000
#: Largest image file read, in bytes: an uncompressed 8-bit RGB image of MAX_IMAGE_PIXELS,
#: plus room for headers.
MAX_IMAGE_BYTES: int = 3 * MAX_IMAGE_PIXELS + (1 << 20)
#: Largest YAML file (spec, training config) read, in bytes.
MAX_YAML_BYTES: int = 1 << 20
#: Largest number of nodes a YAML document may hold once its aliases are expanded.
MAX_YAML_NODES: int = 10_000
#: Longest error message quoted from a library (YAML, Keras...), in characters.
MAX_MESSAGE: int = 300
#: First characters that make a spreadsheet read a cell as a formula (OWASP), tab and CR
#: included.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def printable(path: str | Path) -> str:
    """``path`` as text that can be printed and written as UTF-8.

    A file name that is not valid UTF-8 (a byte such as ``0xff`` from another system)
    reaches Python as a lone surrogate, which ``print`` and UTF-8 files refuse; its bytes
    are shown as ``\\xff`` escapes instead.

    Examples
    --------
    >>> printable(os.fsdecode(b"frame-\\xff.png"))
    'frame-\\\\xff.png'
    >>> printable("plain.png")
    'plain.png'
    """
    return os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line, cut to ``limit`` characters (an ellipsis marks the cut).

    Examples
    --------
    >>> shorten("a\\nb" + "c" * 400, limit=10)
    'a bcccc...'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def file_kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", ...), None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_regular_file(path: str | Path, max_bytes: int) -> bytes:
    """Read a regular file of at most ``max_bytes`` bytes.

    The file is opened without blocking (a FIFO with no writer would otherwise hang) and
    checked with ``fstat`` on the open descriptor, so what is checked is what is read.

    Raises
    ------
    DatasetError
        Naming the file: missing, unreadable, not a regular file (FIFO, device, socket,
        folder), or larger than ``max_bytes``.

    Examples
    --------
    >>> read_regular_file("/dev/zero", 10)
    Traceback (most recent call last):
    ...
    heatsink.errors.DatasetError: /dev/zero: is a character device, not a regular file; \
refused
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise DatasetError(path, "is missing (no such file)") from None
    except OSError as exc:
        raise DatasetError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        kind = file_kind(info.st_mode)
        if kind is not None:
            raise DatasetError(path, f"is {kind}, not a regular file; refused")
        if info.st_size > max_bytes:
            raise DatasetError(path, f"is too large: {info.st_size} bytes, more than the "
                                     f"{max_bytes} accepted")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise DatasetError(path, f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while being read
        raise DatasetError(path, f"is too large: more than the {max_bytes} bytes accepted")
    return data


def read_text_file(path: str | Path, what: str, max_bytes: int = MAX_YAML_BYTES) -> str:
    """A small UTF-8 text file (a spec, a config) read with :func:`read_regular_file`.

    Raises
    ------
    HeatsinkError
        ``"<path>: cannot read the <what> (...)"``: missing, not a regular file, too
        large, unreadable or not UTF-8.
    """
    try:
        data = read_regular_file(path, max_bytes)
        return data.decode("utf-8")
    except DatasetError as exc:
        raise HeatsinkError(f"{printable(path)}: cannot read the {what}: it {exc.problem}"
                            ) from None
    except UnicodeDecodeError as exc:
        raise HeatsinkError(f"{printable(path)}: cannot read the {what}: not UTF-8 text "
                            f"(byte {exc.start})") from None


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from an image's header, without decoding it; None if Pillow does
    not recognise the format.

    Raises
    ------
    ValueError
        If the header declares more than twice Pillow's own pixel limit (Pillow refuses to
        open it); the message says so.
    """
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                return image.size
        except Image.DecompressionBombError as exc:
            raise ValueError(shorten(str(exc))) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            return None


def check_pixels(path: str | Path, data: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Refuse an image whose header declares more than ``max_pixels`` pixels.

    A 1 MB PNG can decode to 20000×20000 pixels (1.2 GB as RGB): the size is read from the
    header (:func:`image_size`) and the image refused before it is decoded. A file whose
    header Pillow cannot read is refused too (fail closed: OpenCV decodes formats such as
    Radiance HDR up to 2³⁰ pixels, 12 GB as float RGB).

    Raises
    ------
    DatasetError
        Naming the file, its declared size and the limit; or saying its header could not
        be read.
    """
    try:
        size = image_size(data)
    except ValueError:
        raise DatasetError(path, f"is too large: its header declares more than "
                                 f"{max_pixels} pixels (a decompression bomb?); "
                                 "refused before decoding") from None
    if size is None:
        raise DatasetError(path, "is corrupt: not an image whose size can be read from its "
                                 "header (BMP, PNG, JPEG, TIFF...), so it is not decoded")
    if size[0] * size[1] > max_pixels:
        raise DatasetError(path, f"is too large: its header declares {size[1]}×{size[0]} "
                                 f"pixels (H×W), more than the {max_pixels} accepted; "
                                 "refused before decoding")


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader says so below
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found duplicate key {shorten(repr(key), 60)} (first on line "
                        f"{first.line + 1})", key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _expanded_nodes(root: yaml.Node, limit: int) -> int:
    """Nodes of the document once aliases are expanded; stops counting above ``limit``."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if depth > 100:
            raise yaml.YAMLError(f"nested more than 100 levels deep (line "
                                 f"{node.start_mark.line + 1})")
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        sizes[id(node)] = limit + 1  # a node met again while being counted: a cycle
        for child in children:
            total += size(child, depth + 1)
            if total > limit:
                break
        sizes[id(node)] = total
        return total

    return size(root, 0)


def _reason(exc: BaseException) -> str:
    """A YAML error in one short line: where, and what."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return shorten(where + exc.problem)
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return shorten(str(exc))


def load_yaml(text: str, source: str | Path, max_nodes: int = MAX_YAML_NODES) -> Any:
    """Parse YAML safely: no tags that build objects, no duplicate keys, bounded aliases.

    Parameters
    ----------
    text : str
        The document.
    source : path or str
        Named in error messages.
    max_nodes : int
        Largest number of nodes once aliases are expanded (a 400-byte "billion laughs"
        file expands to billions).

    Raises
    ------
    HeatsinkError
        ``"<source>: not valid YAML (...)"``, the reason cut to :data:`MAX_MESSAGE`
        characters.

    Examples
    --------
    >>> load_yaml("a: 1\\nb: [x, y]\\n", "ok.yaml")
    {'a': 1, 'b': ['x', 'y']}
    >>> load_yaml("a: 1\\na: 2\\n", "dup.yaml")
    Traceback (most recent call last):
    ...
    heatsink.errors.HeatsinkError: dup.yaml: not valid YAML (line 2, column 1: found \
duplicate key 'a' (first on line 1))
    """
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_nodes(node, max_nodes) > max_nodes:
            raise yaml.YAMLError(f"more than {max_nodes} values once its aliases (*name) are "
                                 "expanded; refused")
        return loader.construct_document(node)
    except (yaml.YAMLError, RecursionError) as exc:
        raise HeatsinkError(f"{printable(source)}: not valid YAML ({_reason(exc)})") from None
    finally:
        loader.dispose()


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made inert; others unchanged.

    A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading
    single quote, as OWASP's CSV-injection guidance says. Only text is changed: a number
    (a negative measurement) stays a number.

    Examples
    --------
    >>> neutralise_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralise_cell(-1.5), neutralise_cell("frames/0001.bmp")
    (-1.5, 'frames/0001.bmp')
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


__all__ = [
    "FORMULA_PREFIXES",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_MESSAGE",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "check_pixels",
    "file_kind",
    "image_size",
    "load_yaml",
    "neutralise_cell",
    "printable",
    "read_regular_file",
    "read_text_file",
    "shorten",
]
