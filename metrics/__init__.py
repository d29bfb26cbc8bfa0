"""Fusion metrics: one function per metric, batched (N, 1, H, W) -> (N,), registered with their facts.

Every public module of this package is one metric and is imported here, so its registrations (the default
convention and the reference conventions it reproduces) exist once `metrics` is imported.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from metrics._conventions import Convention, get_convention, list_conventions, register_convention, score_images
from metrics._registry import (DEFAULT_CONVENTION, PRESETS, MetricSpec, get_metric, list_metrics, preset_metrics,
                               register_metric, register_variant)

for _module in sorted(m.name for m in _pkgutil.iter_modules(__path__) if not m.name.startswith('_')):
    _importlib.import_module(f'{__name__}.{_module}')

__all__ = ['DEFAULT_CONVENTION', 'PRESETS', 'Convention', 'MetricSpec', 'get_convention', 'get_metric',
           'list_conventions', 'list_metrics', 'preset_metrics', 'register_convention', 'register_metric',
           'register_variant', 'score_images']
