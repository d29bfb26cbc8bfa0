"""Methods from other installed packages, registered through the `ivif_bench.methods` entry-point group.

A plug-in package declares, in its own setup.cfg::

    [options.entry_points]
    ivif_bench.methods =
        mymethod = mypackage.mymethod

and importing `mypackage.mymethod` runs its `@register_method` decorators.
"""
from __future__ import annotations

import warnings
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = 'ivif_bench.methods'
_loaded: set[str] = set()


def load_plugins() -> list[str]:
    """Imports every not yet loaded plug-in of the group; a broken plug-in warns and is skipped.

    Returns:
        the entry-point names loaded by this call.
    """
    new = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value in _loaded:
            continue
        _loaded.add(ep.value)
        try:
            ep.load()
        except Exception as err:  # a third party's bug must not stop the benchmark
            warnings.warn(f'Could not load fusion-method plug-in {ep.name!r} ({ep.value}): {err!r}', RuntimeWarning,
                          stacklevel=2)
            continue
        new.append(ep.name)
    return new
