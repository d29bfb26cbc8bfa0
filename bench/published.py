"""Published fused images used as a method: a folder matched to a data set's pairs by file name."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.datasets import Pair

IMAGE_SUFFIXES = {'.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff'}


class ResultNotFound(FileNotFoundError):
    """No file, or more than one, in a results folder matches a pair."""


@dataclass(frozen=True)
class PublishedResults:
    """Fused images of method `name` in `folder`.

    With `pattern` (fields {pair}, {ir}, {vi}: the pair's name and the stems of its files) the file name is exact.
    Without, a file matches when its stem equals the pair name or a source's stem, or starts or ends with one of
    them next to a separator (`fused_IR1.png` and `carLight_CBF.jpg` both match); the exact match wins, then the
    longest key with a unique match.
    """
    name: str
    folder: Path
    pattern: str | None = None
    #: names of the pairs the folder has a result for (a folder a manifest declares: the pairs it lists a file for,
    #: as for a published sample of a set); None: every pair.
    pairs: frozenset[str] | None = None

    def select(self, pairs):
        """The pairs of `pairs` this folder is scored on."""
        return [p for p in pairs if self.pairs is None or p.name in self.pairs]

    def find(self, pair: Pair) -> Path:
        keys = {'pair': pair.name, 'ir': Path(pair.ir).stem, 'vi': Path(pair.vi).stem}
        if not self.folder.is_dir():
            raise ResultNotFound(f'Results folder of {self.name!r} not found: {self.folder}')
        if self.pattern:
            path = self.folder / self.pattern.format(**keys)
            if not path.is_file():
                raise ResultNotFound(f'No result of {self.name!r} for pair {pair.name!r}: {path} not found.')
            return path
        stems = {p.stem: p for p in self._files()}
        for key in keys.values():
            if key in stems:
                return stems[key]
        # Longer keys first: a source stem such as 'IR3' is more specific than a pair name such as '3'.
        ambiguous: set[Path] = set()
        for key in sorted(set(keys.values()), key=len, reverse=True):
            near = re.compile(rf'(^|.*[_\-. ]){re.escape(key)}([_\-. ].*|$)')
            loose = [p for s, p in stems.items() if near.fullmatch(s)]
            if len(loose) == 1:
                return loose[0]
            ambiguous.update(loose)
        if ambiguous:
            names = ', '.join(sorted(p.name for p in ambiguous)[:5])
            raise ResultNotFound(f'Ambiguous result of {self.name!r} for pair {pair.name!r} in {self.folder}: '
                                 f'{names}. Give a pattern, e.g. --results {self.name}={self.folder}/{{pair}}.png')
        raise ResultNotFound(f'No result of {self.name!r} for pair {pair.name!r} in {self.folder} '
                             f'(looked for a file named after {", ".join(sorted(set(keys.values())))}).')

    def _files(self) -> list[Path]:
        cached = _LISTINGS.get(self.folder)
        if cached is None:
            cached = _LISTINGS[self.folder] = sorted(p for p in self.folder.iterdir()
                                                     if p.suffix.lower() in IMAGE_SUFFIXES)
        return cached


_LISTINGS: dict[Path, list[Path]] = {}


def parse_results_option(text: str) -> tuple[str, Path | None, str | None]:
    """`NAME=DIR`, `NAME=DIR/pattern{pair}.png` or a bare `NAME` (a results folder declared in the manifest).

    Returns:
        (name, folder or None, pattern or None).

    Raises:
        ValueError: for an empty name.
    """
    name, sep, where = text.partition('=')
    name = name.strip()
    if not name:
        raise ValueError(f'Expected --results NAME=DIR or NAME, but got {text!r}.')
    if not sep:
        return name, None, None
    path = Path(where).expanduser()
    if '{' in path.name:
        return name, path.parent, path.name
    return name, path, None
