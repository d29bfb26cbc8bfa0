"""`bench score`: metrics for fused images that already exist, matched to their sources by file name."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.images import read_image_layout
from bench.published import IMAGE_SUFFIXES

_BOUNDARY = re.compile(r'[^0-9A-Za-z]|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])')


@dataclass(frozen=True)
class Triple:
    name: str
    ir: Path
    vi: Path
    fused: Path


def _cut_points(stem: str) -> set[int]:
    """Offsets where a name may be split: around separators and between letters and digits."""
    points = {0, len(stem)}
    for m in _BOUNDARY.finditer(stem):
        points.update((m.start(), m.end()))
    return points


def name_keys(stems: list[str]) -> dict[str, str]:
    """Maps each stem to its key: the stem without the prefix and suffix all stems share, cut at word boundaries.

    Example:
        >>> name_keys(['IR1', 'IR2', 'IR10'])
        {'IR1': '1', 'IR2': '2', 'IR10': '10'}
        >>> name_keys(['carLight_CBF', 'man_CBF'])
        {'carLight_CBF': 'carLight', 'man_CBF': 'man'}
        >>> name_keys(['10', '11', '12'])
        {'10': '10', '11': '11', '12': '12'}
    """
    if len(stems) < 2:
        return {s: s for s in stems}
    shortest = min(map(len, stems))
    pre = 0
    while pre < shortest and len({s[pre] for s in stems}) == 1:
        pre += 1
    suf = 0
    while suf < shortest - pre and len({s[len(s) - 1 - suf] for s in stems}) == 1:
        suf += 1
    pre = max((p for p in range(pre + 1) if all(p in _cut_points(s) for s in stems)), default=0)
    suf = max((q for q in range(suf + 1) if all(len(s) - q in _cut_points(s) for s in stems)), default=0)
    return {s: s[pre:len(s) - suf] for s in stems}


def _listing(spec: Path) -> dict[str, Path]:
    """{key: file} for a folder, a `{name}` template or a single file."""
    if '{name}' in spec.name:
        head, tail = spec.name.split('{name}', 1)
        files = [p for p in spec.parent.glob(head + '*' + tail) if p.is_file()] if spec.parent.is_dir() else []
        return {p.name[len(head):len(p.name) - len(tail)]: p for p in files}
    if spec.is_dir():
        files = sorted(p for p in spec.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        keys = name_keys([p.stem for p in files])
        return {keys[p.stem]: p for p in files}
    if spec.is_file():
        return {'': spec}
    raise FileNotFoundError(f'Not found: {spec} (give an image file, a folder, or a path with {{name}} in it).')


def natural_key(key: str) -> list:
    """Sort key that orders '2' before '10' (names of numbered images)."""
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', key)]


def match_triples(ir: Path, vi: Path, fused: Path) -> tuple[list[Triple], list[str]]:
    """Triples present in all three, and a message per name missing somewhere."""
    listings = {'ir': _listing(Path(ir)), 'vi': _listing(Path(vi)), 'fused': _listing(Path(fused))}
    if all(list(v) == [''] for v in listings.values()):
        return [Triple(Path(fused).stem, *(listings[k][''] for k in ('ir', 'vi', 'fused')))], []
    keys = sorted(set().union(*listings.values()), key=natural_key)
    triples, problems = [], []
    for key in keys:
        missing = [label for label, files in listings.items() if key not in files]
        if missing:
            problems.append(f'{key!r}: no {" or ".join(missing)} image')
        else:
            triples.append(Triple(key, listings['ir'][key], listings['vi'][key], listings['fused'][key]))
    return triples, problems


def _tensor(image: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(image)
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1)


def _read_triple(t: Triple) -> tuple[np.ndarray, ...]:
    """(fused, ir, vi) decoded, then whether each file stores three channels (vifb and mefb read files as stored)."""
    images, stored_rgb = zip(*(read_image_layout(p) for p in (t.fused, t.ir, t.vi)))
    if len({im.shape[:2] for im in images}) != 1:
        sizes = ', '.join(f'{p} is {im.shape[1]}x{im.shape[0]}' for p, im in zip((t.fused, t.ir, t.vi), images))
        raise ValueError(f'size mismatch: {sizes}')
    return images + stored_rgb


def _decode_ahead(batch: int) -> int:
    """Triples to decode in the background while the metrics run: only where a core is free for it. Measured on 2
    cores, 40 MSRS triples, the paper's seven metrics: with 2 scoring threads decoding ahead cost 3 ms a triple
    (48.3 -> 51.5 ms), with 1 it saved 16 (67.8 -> 51.3)."""
    return batch if (os.cpu_count() or 1) > torch.get_num_threads() else 0


def score_triples(triples: list[Triple], metrics: list[str], convention: str, device: str = 'cpu',
                  batch: int | None = None, progress: bool = False):
    """Yields (triple, {metric: value}) or (triple, error) per triple, in order; consecutive same-size triples are
    scored in batches of `batch` (default: 1 on the CPU, 8 on other devices). Where a core is free for it
    (`_decode_ahead`), the next triple is decoded in a background thread while the current one is scored."""
    from metrics import score_images
    from bench.prefetch import prefetched
    from bench.progress import progress_bar
    if batch is None:
        # On the CPU a batch only adds memory traffic: measured (`bench speed`, 640x480), batches of 8 scored
        # 0.6-0.9x as many triples per second as single triples, and an error then fails one triple, not eight.
        batch = 1 if torch.device(device).type == 'cpu' else 8
    chunk: list[tuple[Triple, tuple[np.ndarray, ...]]] = []

    def flush():
        f, a, b = (torch.stack([_tensor(images[k]) for _, images in chunk]).to(device) for k in range(3))
        stored_rgb = [[images[3 + k] for _, images in chunk] for k in range(3)]
        try:
            values = score_images(f, a, b, metrics, convention, stored_rgb=stored_rgb)
        except Exception as err:
            results = [(t, err) for t, _ in chunk]
        else:
            results = [(t, {m: float(v[i]) for m, v in values.items()}) for i, (t, _) in enumerate(chunk)]
        chunk.clear()
        return results

    with progress_bar(total=len(triples), desc='score', unit='triple', enable=progress) as bar:
        for t, images in prefetched(triples, _read_triple, ahead=_decode_ahead(batch)):
            if isinstance(images, Exception):
                yield t, images
                bar.update(1)
                continue
            if chunk and tuple(im.shape for im in chunk[0][1][:3]) != tuple(im.shape for im in images[:3]):
                for result in flush():
                    yield result
                    bar.update(1)
            chunk.append((t, images))
            if len(chunk) == batch:
                for result in flush():
                    yield result
                    bar.update(1)
        if chunk:
            for result in flush():
                yield result
                bar.update(1)
