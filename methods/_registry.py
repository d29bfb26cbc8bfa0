"""Registry of fusion methods: one frozen spec per method, filled by the `register_method` decorator."""
from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence, TypeVar

__all__ = ['Weights', 'MethodSpec', 'register_method', 'list_methods', 'get_method_spec', 'create_method',
           'suggest', 'user_weight_files', 'waiting_for_user_files']

F = TypeVar('F', bound=Callable)

COLOUR_MODES = ('ycbcr', 'gray', 'rgb')


@dataclass(frozen=True)
class Weights:
    """One checkpoint file a method needs, looked up under the weights directory.

    Attributes:
        file: path relative to the weights directory.
        sha256: hex digest of the official file; always checked before loading.
        url: the authors' public download location.
        git_blob: git's object id of the official file, checked instead when its sha256 is not known ('').
        user_supplied: the file has no download a program can make (a cloud drive, a form): a user brings it.
    """
    file: str
    sha256: str
    url: str = ''
    git_blob: str = ''
    user_supplied: bool = False

    def __post_init__(self) -> None:
        # A placeholder or a truncated digest would only fail when a user fetches or loads the file: fail here.
        for label, value, digits in (('sha256', self.sha256, 64), ('git_blob', self.git_blob, 40)):
            if value and (len(value) != digits or any(c not in '0123456789abcdef' for c in value.lower())):
                raise ValueError(f'Expected `{label}` of {self.file!r} to be {digits} hexadecimal digits, '
                                 f'but got {value!r}.')
        if not self.sha256 and not self.git_blob:
            raise ValueError(f'Expected a `sha256` (or a `git_blob` id) for {self.file!r}, but got neither.')


@dataclass(frozen=True)
class MethodSpec:
    """Everything the benchmark knows about a method without building it.

    Attributes:
        name: registry key, lower case (`densefuse`).
        build: the decorated factory; returns a `FusionMethod`.
        paper: citation of the paper that defines the method.
        licence: licence of the official code and weights.
        weights: files the method needs (empty for pixel rules).
        colour: how a colour visible image is handled, done once in `FusionMethod.fuse`:
            'ycbcr' fuses the visible luminance and recolours with the visible chroma (the field's protocol),
            'gray' fuses the luminance and returns a gray image, 'rgb' passes the visible image through unchanged.
        input_multiple: height and width the network needs to divide (inputs are padded by reflection).
        module: Python module that registered the method (shows where a plug-in came from).
        tags: free-form labels ('pixel-rule', 'baseline', 'published', ...).
        note: what a user should know before running it (shown by `bench list methods`), e.g. that it takes
            more than 10 s a pair on a CPU.
        shipped: weight files that ship inside the package (the methods this project trained); their sha256 is
            part of what a run records as having produced a result.
        year: publication year of the paper.
        verification: how the port was checked, with its number: 'published images: ...', 'official code: ...',
            'random-weight equality: ...' (shown by `bench list methods` and the README).
    """
    name: str
    build: Callable = field(repr=False, compare=False)
    paper: str = ''
    licence: str = ''
    weights: tuple[Weights, ...] = ()
    colour: str = 'ycbcr'
    input_multiple: int = 1
    module: str = ''
    tags: tuple[str, ...] = ()
    note: str = ''
    shipped: tuple[Path, ...] = ()
    year: int | None = None
    verification: str = ''

    @property
    def weights_status(self) -> str:
        """'none', 'shipped here' (trained by this project), 'official download' or 'user-supplied'."""
        if self.shipped:
            return 'shipped here'
        if not self.weights:
            return 'none'
        return 'user-supplied' if any(w.user_supplied for w in self.weights) else 'official download'


_METHODS: dict[str, MethodSpec] = {}


def register_method(name: str | None = None, *, paper: str = '', licence: str = '',
                    weights: Sequence[Weights] = (), colour: str = 'ycbcr', input_multiple: int = 1,
                    tags: Sequence[str] = (), note: str = '', shipped: Sequence[Path] = (), year: int | None = None,
                    verification: str = '') -> Callable[[F], F]:
    """Decorator that registers a method factory under `name` (default: the function's name).

    Raises:
        ValueError: if the name is already registered, or an option is out of range.
    """
    if colour not in COLOUR_MODES:
        raise ValueError(f'Expected `colour` in {COLOUR_MODES}, but got {colour!r}.')
    if input_multiple < 1:
        raise ValueError(f'Expected `input_multiple` >= 1, but got {input_multiple}.')

    def decorate(factory: F) -> F:
        key = (name or factory.__name__).lower()
        if key in _METHODS:
            raise ValueError(f'Method {key!r} is already registered by {_METHODS[key].module}; '
                             f'{factory.__module__} cannot register it again.')
        _METHODS[key] = MethodSpec(key, factory, paper, licence, tuple(weights), colour, input_multiple,
                                   factory.__module__, tuple(tags), note, tuple(Path(p) for p in shipped), year,
                                   verification)
        return factory
    return decorate


def _as_patterns(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def list_methods(pattern: str | Sequence[str] = '*', exclude: str | Sequence[str] = ()) -> list[str]:
    """Sorted names of registered methods matching any of the glob `pattern`s and none of `exclude`."""
    from methods._plugins import load_plugins
    load_plugins()
    keep = _as_patterns(pattern)
    drop = _as_patterns(exclude)
    return sorted(n for n in _METHODS
                  if any(fnmatch.fnmatch(n, p) for p in keep) and not any(fnmatch.fnmatch(n, p) for p in drop))


def suggest(name: str, choices: Sequence[str], kind: str) -> str:
    """The message of a KeyError for an unknown `name`, with close matches."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ''
    return f"Unknown {kind} {name!r}.{hint} Available: {', '.join(sorted(choices)) or 'none'}."


def get_method_spec(name: str) -> MethodSpec:
    """The spec registered under `name`.

    Raises:
        KeyError: for an unknown name, listing close matches.
    """
    from methods._plugins import load_plugins
    load_plugins()
    try:
        return _METHODS[name.lower()]
    except KeyError:
        raise KeyError(suggest(name, list(_METHODS), 'method')) from None


def create_method(name: str, *, pretrained: bool = True, weights_dir=None, device='cpu', colour: str | None = None,
                  **options):
    """Builds the method registered under `name`, with its weights checked and loaded.

    Args:
        name: registry key (see `list_methods()`).
        pretrained: load the weight files; False builds the method with `weights=None` (random init, for tests).
        weights_dir: folder holding weight files; default from `BENCH_WEIGHTS_DIR`.
        device: torch device to move the method to.
        colour: overrides the spec's colour handling ('ycbcr', 'gray' or 'rgb').
        **options: method-specific keywords passed to the factory. `weights=PATH` (or a list, one per file the
            method lists) loads those files instead of the official ones, without checking their checksums.

    Raises:
        KeyError: for an unknown name.
        WeightsNotFound: when a weight file is missing (the message says which file, its sha256 and its URL).
    """
    from methods._weights import resolve_weights
    spec = get_method_spec(name)
    if colour is not None and colour not in COLOUR_MODES:
        raise ValueError(f'Expected `colour` in {COLOUR_MODES}, but got {colour!r}.')
    if spec.weights and options.get('weights') is not None:  # the user's own files, used as given
        options['weights'] = user_weight_files(spec, options['weights'])
    elif spec.weights:
        options['weights'] = ([resolve_weights(w, weights_dir, method=spec.name) for w in spec.weights]
                              if pretrained else None)
    method = spec.build(**options)
    method.spec = spec
    method.colour = colour or spec.colour
    return method.to(device).eval()


def waiting_for_user_files(name: str, weights_dir=None) -> list[Weights]:
    """The user-supplied weight files of method `name` that are not (correctly) in the weights directory: the
    method cannot run until a user puts them there."""
    from methods._weights import WeightsNotFound, resolve_weights
    missing = []
    for w in get_method_spec(name).weights:
        if w.user_supplied:
            try:
                resolve_weights(w, weights_dir, method=name)
            except WeightsNotFound:
                missing.append(w)
    return missing


def user_weight_files(spec: MethodSpec, given) -> list[Path]:
    """A user's replacement for a method's official weight files: one path per file the spec lists, in order.

    Raises:
        ValueError: for the wrong number of files.
        FileNotFoundError: for a missing file.
    """
    paths = [Path(p) for p in (given if isinstance(given, (list, tuple)) else [given])]
    if len(paths) != len(spec.weights):
        listed = ', '.join(w.file for w in spec.weights)
        raise ValueError(f'Expected {len(spec.weights)} weight file(s) for {spec.name!r} (in the order of its '
                         f'official files: {listed}), but got {len(paths)}.')
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f'Weights file for {spec.name!r} not found: {p}')
    return paths


def registry_view() -> Mapping[str, MethodSpec]:
    """Read-only view of the registry (for tests and listings)."""
    from types import MappingProxyType
    return MappingProxyType(_METHODS)
