"""Turning INPUT arguments (files, directories, globs) into a list of sources.

Walking rules (docs: README "The batch job"):

- a directory is searched recursively; symbolic links to folders are
  followed once (a folder reached twice, e.g. through a link loop, is not
  walked again), so a loop never repeats files nor runs forever;
- a glob is matched against the same walk below its fixed prefix (``**``
  is any number of folders), never through ``glob.glob``, which follows
  link loops;
- the output folder and everything under it is never an input, even when
  it lies inside an input folder; an output folder that *is* an input
  folder, or contains one or an input file, is refused;
- the same file reached twice (``run d d/sub``, a file listed twice, a
  link) is processed once.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Containers libsndfile cannot read, decoded with PyAV (remotemedia[ffmpeg]; remotemedia.dataset.reader).
AV_EXTENSIONS = frozenset({".m4a", ".mp4", ".aac", ".webm", ".wma", ".mka", ".mkv", ".mov", ".3gp", ".amr"})
# Extensions scanned for in directories and globs: what libsndfile reads, and the above.
AUDIO_EXTENSIONS = (
    frozenset(
        {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".caf", ".w64", ".rf64"}
    )
    | AV_EXTENSIONS
)


class OutputInsideInputsError(ValueError):
    """The output folder is an input folder, or holds an input: outputs would replace inputs."""


@dataclass(frozen=True)
class Source:
    """One input file, where its output goes (relative to the output folder), and its INPUT argument."""

    path: Path
    relpath: Path
    root: Path = Path(".")


@dataclass
class Scan:
    """What the INPUT arguments expanded to."""

    sources: list[Source] = field(default_factory=list)
    # Input folders (or glob prefixes) that contain the output folder: it was left out of each.
    outdir_inside: list[Path] = field(default_factory=list)
    # Files reached more than once (processed once).
    duplicates: int = 0


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    static = []
    for part in parts:
        if glob.has_magic(part):
            break
        static.append(part)
    return Path(*static) if static else Path(".")


def _class_end(part: str, start: int) -> int:
    """Index of the ``]`` closing a ``[...]`` class that opens at ``start``; -1 if none."""
    j = start + 1
    if part[j : j + 1] == "!":
        j += 1
    if part[j : j + 1] == "]":
        j += 1
    return part.find("]", j)


def _segment_regex(part: str) -> str:
    """One path segment of a glob as a regular expression (``*``, ``?``, ``[...]``)."""
    out, i = [], 0
    while i < len(part):
        ch = part[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and _class_end(part, i) > 0:
            end = _class_end(part, i)
            body = part[i + 1 : end]
            negate = body.startswith("!")
            body = re.sub(r"([&~|\[\\])", r"\\\1", body[1:] if negate else body)
            if not negate and body.startswith("^"):
                body = "\\" + body
            out.append("[" + ("^" if negate else "") + body + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def glob_regex(parts: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """A regular expression for a relative glob (segments already split), ``**`` recursive."""
    pieces = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            pieces.append(".*" if last else "(?:[^/]+/)*")
        else:
            pieces.append(_segment_regex(part) + ("" if last else "/"))
    return re.compile("".join(pieces) + r"\Z")


def _dir_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def walk_files(top: Path, skip: tuple[int, int] | None = None) -> Iterator[Path]:
    """Every file below ``top``, sorted, following folder links once (no loops).

    ``skip`` is the identity (device, inode) of a folder left out with all
    it holds (the output folder).
    """
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        ident = _dir_id(dirpath)
        if ident is None or ident in seen or ident == skip:
            dirnames[:] = []
            continue
        seen.add(ident)
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if _dir_id(os.path.join(dirpath, d)) not in seen | {skip}]
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.is_file():
                yield path


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def scan(
    inputs: list[str | os.PathLike[str]],
    extensions: frozenset[str] = AUDIO_EXTENSIONS,
    *,
    outdir: str | os.PathLike[str] | None = None,
) -> Scan:
    """Expand INPUT arguments into sources (see the module notes for the rules).

    A file is taken as given (whatever its extension: a bad file is
    reported, not silently dropped). A directory or a glob yields the
    files with an audio extension (hidden files left out). Relative output
    paths mirror the tree below the directory or the glob's fixed prefix.

    Raises
    ------
    FileNotFoundError
        An input that is neither a file, a directory nor a matching glob.
    OutputInsideInputsError
        ``outdir`` is an input folder or holds an input.
    """
    result = Scan()
    out_real = Path(os.path.realpath(outdir)) if outdir is not None else None
    out_id = _dir_id(str(out_real)) if out_real is not None else None
    seen: set[str] = set()
    from remotemedia.batch.realpaths import RealPaths

    realpath = RealPaths()  # os.path.realpath, each folder resolved once
    for raw in inputs:
        text = os.fspath(raw)
        path = Path(text)
        if path.is_file():
            _refuse_if_inside_outdir(Path(os.path.realpath(path)), out_real, text, is_file=True)
            candidates = [(path, Path(path.name), path.parent)]
        elif path.is_dir():
            _check_root(path, out_real, text, result)
            candidates = [
                (p, p.relative_to(path), path)
                for p in walk_files(path, skip=out_id)
                if p.suffix.lower() in extensions and not p.name.startswith(".")
            ]
        elif glob.has_magic(text):
            base = _glob_base(text)
            rest = Path(text).parts[len(base.parts) if base != Path(".") else 0 :]
            pattern = glob_regex(rest)
            candidates = []
            if base.is_dir():
                _check_root(base, out_real, text, result)
                for p in walk_files(base, skip=out_id):
                    rel = p.relative_to(base)
                    hidden = any(part.startswith(".") for part in rel.parts)
                    if not hidden and p.suffix.lower() in extensions and pattern.match(rel.as_posix()):
                        candidates.append((p, rel, base))
        else:
            raise FileNotFoundError(f"input {text!r} is not a file, a directory or a glob that matches anything")
        for file, rel, root in candidates:
            key = realpath(file)
            if key in seen:
                result.duplicates += 1
                continue
            seen.add(key)
            result.sources.append(Source(file, rel, root))
    result.sources.sort(key=lambda s: (s.relpath.as_posix(), str(s.path)))
    return result


def _refuse_if_inside_outdir(real: Path, out_real: Path | None, text: str, *, is_file: bool) -> None:
    if out_real is not None and _is_within(real, out_real):
        what = "input file" if is_file else "input folder"
        raise OutputInsideInputsError(
            f"the output folder {out_real} holds the {what} {text!r}: outputs could replace inputs; "
            "choose an output folder outside the inputs (-o)"
        )


def _check_root(root: Path, out_real: Path | None, text: str, result: Scan) -> Path:
    """Refuse an output folder that is or contains ``root``; note one that lies inside it."""
    real = Path(os.path.realpath(root))
    if out_real is None:
        return real
    if _is_within(real, out_real):
        same = real == out_real
        raise OutputInsideInputsError(
            f"the output folder {out_real} {'is' if same else 'contains'} the input folder {text!r}: "
            "outputs would be written over the inputs; choose an output folder outside the inputs (-o)"
        )
    if real in out_real.parents and root not in result.outdir_inside:
        result.outdir_inside.append(root)
    return real


def discover(
    inputs: list[str | os.PathLike[str]],
    extensions: frozenset[str] = AUDIO_EXTENSIONS,
    *,
    outdir: str | os.PathLike[str] | None = None,
) -> list[Source]:
    """The sources of :func:`scan`, sorted by relative path."""
    return scan(inputs, extensions, outdir=outdir).sources
