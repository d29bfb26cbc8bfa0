"""Reports built from a run folder's saved results; pandas only (no torch, methods or metrics imports)."""
from reports.html import write_report
from reports.tables import mean_table, timing_table

__all__ = ['mean_table', 'timing_table', 'write_report']
