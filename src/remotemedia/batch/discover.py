"""Turning INPUT arguments (files, directories, globs) into a list of jobs."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Source:
    """One input file and where its output goes, relative to the output folder."""

    path: Path
    relpath: Path


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    static = []
    for part in parts:
        if glob.has_magic(part):
            break
        static.append(part)
    return Path(*static) if static else Path(".")


def discover(inputs: list[str | os.PathLike[str]], extensions: frozenset[str] = AUDIO_EXTENSIONS) -> list[Source]:
    """Expand INPUT arguments into sources, sorted, with mirrored relative paths.

    A file is taken as given (whatever its extension: a bad file is
    reported, not silently dropped). A directory is searched recursively
    for files with an audio extension; a glob is expanded (``**``
    recursive) and filtered the same way. Output paths mirror the tree
    below the directory or the glob's fixed prefix.

    Raises
    ------
    FileNotFoundError
        An input that is neither a file, a directory nor a matching glob.
    ValueError
        Two inputs would write to the same output path.
    """
    found: dict[Path, Source] = {}
    for raw in inputs:
        text = os.fspath(raw)
        path = Path(text)
        if path.is_file():
            candidates = [(path, Path(path.name))]
        elif path.is_dir():
            candidates = [
                (p, p.relative_to(path))
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in extensions and not p.name.startswith(".")
            ]
        elif glob.has_magic(text):
            base = _glob_base(text)
            candidates = [
                (Path(p), Path(p).relative_to(base) if Path(p).is_relative_to(base) else Path(Path(p).name))
                for p in sorted(glob.glob(text, recursive=True))
                if Path(p).is_file() and Path(p).suffix.lower() in extensions
            ]
        else:
            raise FileNotFoundError(f"input {text!r} is not a file, a directory or a glob that matches anything")
        for file, rel in candidates:
            other = found.get(rel)
            if other is not None and other.path.resolve() != file.resolve():
                raise ValueError(
                    f"inputs {other.path} and {file} would both write output {rel}; process them separately"
                )
            found[rel] = Source(file, rel)
    return sorted(found.values(), key=lambda s: s.relpath.as_posix())
