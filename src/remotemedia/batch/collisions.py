"""Output names: one output per input, never two inputs on one output.

An input's output is normally its relative path with the extension
replaced by the output format (``calls/a.flac`` -> ``calls/a.wav``). Two
inputs collide when their outputs would be the same file, compared without
regard to case (a case-insensitive file system would merge them):
``a.wav`` + ``a.flac``, ``x.WAV`` + ``x.wav``, ``noext`` + ``noext.wav``,
or the same relative name under two input folders.

With ``on_collision="keep"`` (the default) every input of a colliding group
keeps its own extension in the name (``a.flac`` -> ``a.flac.wav``,
``a.wav`` -> ``a.wav.wav``, ``noext`` -> ``noext.wav``); where that is
still not unique (a name under two roots, names that differ only in case)
the name also gets ``~<input folder name>-<6 hex digits of a hash of the
input's absolute path>`` (``x.wav~in2-3fa2c1.wav``). Names depend only on
the inputs, so a second run (``--resume``) finds the same outputs.
``on_collision="error"`` raises :class:`OutputCollisionError` listing
every group, before any work.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from remotemedia.batch.digest import blake2b
from remotemedia.batch.discover import Source
from remotemedia.batch.settings import ON_COLLISION


class OutputCollisionError(ValueError):
    """Two or more inputs would write the same output (``--on-collision error``)."""

    def __init__(self, groups: list[tuple[str, list[Path]]]) -> None:
        self.groups = groups
        listed = "; ".join(f"{out} <- {', '.join(str(p) for p in paths)}" for out, paths in groups)
        super().__init__(
            f"{len(groups)} output(s) would be written by more than one input: {listed} "
            "(use --on-collision keep to keep each with its extension in the name)"
        )


@dataclass(frozen=True)
class Planned:
    """A source and its output path relative to the output folder (with the format's extension)."""

    source: Source
    output: str
    renamed: bool = False


def default_name(source: Source, fmt: str) -> str:
    """The output name without collisions: the relative path with the format's extension."""
    rel = source.relpath
    name = rel.name
    stem = name[: -len(rel.suffix)] if rel.suffix else name
    return (rel.parent / f"{stem}.{fmt}").as_posix()


def _with_extension(source: Source, fmt: str) -> str:
    return f"{source.relpath.as_posix()}.{fmt}" if source.relpath.suffix else default_name(source, fmt)


def _tagged(source: Source, fmt: str) -> str:
    digest = blake2b(os.path.abspath(source.path).encode("utf-8", "surrogateescape"), digest_size=3)
    root = Path(os.path.abspath(source.root)).name or "root"
    return f"{source.relpath.as_posix()}~{root}-{digest.hexdigest()}.{fmt}"


def _groups(names: dict[int, str]) -> list[list[int]]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for index, name in names.items():
        by_key[name.casefold()].append(index)
    return [members for members in by_key.values() if len(members) > 1]


def plan_outputs(sources: Iterable[Source], fmt: str, on_collision: str = "keep") -> list[Planned]:
    """Give every source a distinct output name (see the module notes).

    Raises
    ------
    ValueError
        ``on_collision`` is not one of ``ON_COLLISION``.
    OutputCollisionError
        Inputs collide and ``on_collision`` is "error".
    """
    if on_collision not in ON_COLLISION:
        raise ValueError(f"on_collision must be one of {', '.join(ON_COLLISION)}, got {on_collision!r}")
    items = list(sources)
    names = {i: default_name(s, fmt) for i, s in enumerate(items)}
    colliding = _groups(names)
    if colliding and on_collision == "error":
        raise OutputCollisionError(
            [
                (names[group[0]], [items[i].path for i in group])
                for group in sorted(colliding, key=lambda g: names[g[0]])
            ]
        )
    renamed: set[int] = set()
    for group in colliding:
        for i in group:
            names[i] = _with_extension(items[i], fmt)
            renamed.add(i)
    for group in _groups(names):
        for i in group:
            names[i] = _tagged(items[i], fmt)
            renamed.add(i)
    still = _groups(names)
    if still:  # only a hash collision could get here
        raise OutputCollisionError([(names[g[0]], [items[i].path for i in g]) for g in still])
    return [Planned(s, names[i], i in renamed) for i, s in enumerate(items)]


def describe_renamed(planned: list[Planned], limit: int = 3) -> str | None:
    """One line about inputs that were given extended names, or None when there are none."""
    renamed = [p for p in planned if p.renamed]
    if not renamed:
        return None
    shown = ", ".join(f"{p.source.path} -> {p.output}" for p in renamed[:limit])
    more = f" and {len(renamed) - limit} more" if len(renamed) > limit else ""
    return (
        f"{len(renamed)} inputs would have shared an output name; each kept with its extension or folder "
        f"in the name: {shown}{more} (--on-collision error stops instead)"
    )
