"""ivif-bench: the benchmark harness (CLI, runner, data sets, timing, results on disk)."""
__version__ = '0.1.0'
