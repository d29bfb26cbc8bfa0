"""`bench data init`: a manifest (`NAME.toml` + `NAME.sha256`) for a user's own folders of image pairs.

Files are matched by name as `bench score` matches them (the prefix and suffix all names of a folder share are
dropped: IR1.png and VIS1.png are pair "1"). The manifest's `directory` is relative to the .toml file, so the
manifest moves with the data; fused folders become published results usable with `bench run --results NAME`.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bench.published import IMAGE_SUFFIXES
from bench.score import name_keys, natural_key

__all__ = ['init_manifest']


def _q(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is a JSON string for the characters paths use


def _listing(folder: Path, label: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f'{label} folder not found: {folder}')
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f'No images ({", ".join(sorted(IMAGE_SUFFIXES))}) in the {label} folder {folder}.')
    keys = name_keys([p.stem for p in files])
    out: dict[str, Path] = {}
    for p in files:
        if keys[p.stem] in out:
            raise ValueError(f'Two files of the {label} folder match pair {keys[p.stem]!r}: {out[keys[p.stem]].name} '
                             f'and {p.name}.')
        out[keys[p.stem]] = p
    return out


def _pattern(files: dict[str, Path]) -> str:
    """The `{pair}` file-name pattern of a results folder, checked against every file."""
    key, path = next(iter(files.items()))
    at = path.stem.find(key) if key else len(path.stem)
    pattern = path.stem[:at] + '{pair}' + path.stem[at + len(key):] + path.suffix
    bad = [p.name for k, p in files.items() if pattern.format(pair=k) != p.name]
    if bad:
        raise ValueError(f'The files of {path.parent} do not follow one name pattern ({pattern} fits {path.name} '
                         f'but not {bad[0]}); rename them or write the [results] entry by hand.')
    return pattern


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as fh:
        for block in iter(lambda: fh.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def init_manifest(name: str, ir: Path, vi: Path, out: Path, fused: dict[str, Path] | None = None,
                  overwrite: bool = False) -> tuple[Path, list[str]]:
    """Writes `out/NAME.toml` and `out/NAME.sha256` for the pairs common to `ir` and `vi`.

    Returns:
        (path of the .toml, messages about names found in only one folder).

    Raises:
        FileNotFoundError: a folder is missing or has no images.
        FileExistsError: the manifest exists and `overwrite` is False.
        ValueError: no common names, a bad NAME, or a results folder without one name pattern.
    """
    if not name or any(c in name for c in '/\\:') or name.startswith('.'):
        raise ValueError(f'Expected a data set NAME without /, \\ or : (e.g. mydata), but got {name!r}.')
    out = Path(out)
    toml, sha = out / f'{name}.toml', out / f'{name}.sha256'
    if toml.exists() and not overwrite:
        raise FileExistsError(f'{toml} exists; remove it or choose another --out.')
    ir_files, vi_files = _listing(Path(ir), 'IR'), _listing(Path(vi), 'visible')
    names = sorted(set(ir_files) & set(vi_files), key=natural_key)
    if not names:
        raise ValueError(f'No image names are common to {ir} and {vi}.')
    notes = [f'{k!r}: only in the {label} folder' for label, files in (('IR', ir_files), ('visible', vi_files))
             for k in sorted(set(files) - set(names), key=natural_key)]
    results = {method: _listing(Path(folder), f'--fused {method}') for method, folder in (fused or {}).items()}
    everything = [p for files in (ir_files, vi_files, *results.values()) for p in files.values()]
    base = Path(os.path.commonpath([str(p.resolve().parent) for p in everything]))
    directory = Path(os.path.relpath(base, out.resolve())).as_posix()
    directory = directory if directory.startswith('.') else f'./{directory}'
    rel = lambda p: p.resolve().relative_to(base).as_posix()  # noqa: E731

    lines = [f'name = {_q(name)}', f'title = {_q(name)}',
             'description = ""   # what the images are, how many, sizes, where from',
             'citation = ""      # how to cite the data', 'licence = ""       # the images\' licence, if known',
             'homepage = ""', f'directory = {_q(directory)}   # relative to this file', 'pairs = [']
    lines += [f'  {{ name = {_q(k)}, ir = {_q(rel(ir_files[k]))}, vi = {_q(rel(vi_files[k]))} }},' for k in names]
    lines.append(']')
    sums = [(rel(ir_files[k]), ir_files[k]) for k in names] + [(rel(vi_files[k]), vi_files[k]) for k in names]
    for method, files in results.items():
        kept = {k: p for k, p in files.items() if k in names}
        if not kept:
            raise ValueError(f'--fused {method}: no file matches a pair name ({", ".join(names[:5])} ...).')
        folder = rel(next(iter(kept.values()))).rsplit('/', 1)[0] if '/' in rel(next(iter(kept.values()))) else '.'
        lines += ['', f'[results.{_q(method)}]', f'dir = {_q(folder)}', f'pattern = {_q(_pattern(kept))}']
        sums += [(rel(p), p) for p in kept.values()]
        notes += [f'--fused {method}: {k!r} matches no pair' for k in sorted(set(files) - set(kept), key=natural_key)]
    out.mkdir(parents=True, exist_ok=True)
    toml.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    sha.write_text(''.join(f'{_sha256(p)}  {r}\n' for r, p in sums), encoding='utf-8')
    return toml, notes
