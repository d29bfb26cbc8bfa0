"""Reports built from a run folder's saved results: tables, figures and a self-contained HTML page.

Reads only what the run saved (scores.csv, timing.csv, errors.csv, run.json and the fused images), so an old run can
be re-rendered; never imports torch, the methods or the metrics.
"""
from reports.html import write_report
from reports.options import ReportOptions
from reports.output import ReportNotWritable
from reports.tables import mean_table
from reports.timing import timing_table

__all__ = ['ReportNotWritable', 'ReportOptions', 'mean_table', 'timing_table', 'write_report']
