"""Fusion metrics: one function per metric, batched (N, 1, H, W) -> (N,), registered with their facts."""
from metrics._conventions import Convention, get_convention, list_conventions, register_convention, score_images
from metrics._registry import DEFAULT_CONVENTION, MetricSpec, get_metric, list_metrics, register_metric

# One import per metric module; importing registers the metric.
from metrics import en, sd  # noqa: E402,F401

__all__ = ['DEFAULT_CONVENTION', 'Convention', 'MetricSpec', 'get_convention', 'get_metric', 'list_conventions',
           'list_metrics', 'register_convention', 'register_metric', 'score_images']
