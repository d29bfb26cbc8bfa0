"""What a report shows: the few choices a user can make, with defaults that suit a paper."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ['ReportOptions', 'FIGURES_ENV']

FIGURES_ENV = 'BENCH_REPORT_FIGURES'


@dataclass
class ReportOptions:
    """Choices for `write_report`.

    Attributes:
        std: show `mean ± std` in the results tables (the CSVs always hold the std).
        decimals: digits after the point (more for a metric whose values are all below 0.01).
        transpose: metrics as rows and methods as columns, as the DFECF paper prints Tables 3 and 4.
        test: what the significance marker uses: 'wilcoxon' (two-sided signed-rank test, Holm-corrected over the
            methods compared) or 'bootstrap' (the 1 - alpha percentile interval of the mean difference excludes 0).
        alpha: significance level.
        resamples: bootstrap resamples.
        figures: draw the figures (the tables alone take a fraction of the time). Default: yes, unless the
            environment variable BENCH_REPORT_FIGURES is 0 (the test suite sets it: its many small runs each end
            with a report).
        embed: embed the figures in index.html as data URIs (one file to send); otherwise link the PNGs beside it.
        pairs: pairs shown in the qualitative grids (default: those where the methods disagree most).
        n_qualitative: how many pairs are chosen automatically.
        zoom: inset box (x, y, width, height) as fractions of the image; default: where the methods differ most.
        ablation: {full model: [variants]}; an empty list means every method named `<full>-...`. Default: methods
            named `<full>-no-*`, `<full>-wo-*` or `<full>-without-*` next to a method `<full>`.
        directions: {metric: higher_is_better} for metrics the run did not record (or to override it).
        distribution: 'box' or 'violin'.
        data_root: where the source images are, when the run's recorded location has moved.
        metrics: which metrics, in this order, as names, globs, `all` or family names (`paper` for the DFECF
            paper's seven; see `reports.groups`). Default: every metric of the run; tables with more than
            `table_width` of them are split into metric groups, the paper's seven first. A chosen list is one table.
        methods: which methods, in this order (names or globs), in every table and figure. Default: all, in the
            order the run wrote them.
        labels: {method: label} shown instead of the name. Published result folders are labelled
            `NAME (published)` unless relabelled here.
        max_lines: lines per panel of the per-pair figure; the other methods are named in the figure and drawn in
            the sorted and distribution figures. Default 8: the best by mean rank, or the first of `methods`.
        table_width: at most this many metrics per table when the metrics are not chosen.
    """
    std: bool = False
    decimals: int = 4
    transpose: bool = False
    test: str = 'wilcoxon'
    alpha: float = 0.05
    resamples: int = 10_000
    figures: bool | None = None
    embed: bool = True
    pairs: list[str] | None = None
    n_qualitative: int = 3
    zoom: tuple[float, float, float, float] | None = None
    ablation: dict[str, list[str]] | None = None
    directions: dict[str, bool] = field(default_factory=dict)
    distribution: str = 'box'
    data_root: Path | None = None
    metrics: list[str] | None = None
    methods: list[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    max_lines: int = 8
    table_width: int = 8

    def __post_init__(self) -> None:
        if self.figures is None:
            self.figures = os.environ.get(FIGURES_ENV, '1').strip().lower() not in ('0', 'false', 'no', 'off')
        if self.test not in ('wilcoxon', 'bootstrap'):
            raise ValueError(f"Expected `test` 'wilcoxon' or 'bootstrap', but got {self.test!r}.")
        if not 0 < self.alpha < 1:
            raise ValueError(f'Expected `alpha` in (0, 1), but got {self.alpha}.')
        if self.distribution not in ('box', 'violin'):
            raise ValueError(f"Expected `distribution` 'box' or 'violin', but got {self.distribution!r}.")
        if self.zoom is not None:
            x, y, w, h = self.zoom
            if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x and 0 < h <= 1 - y):
                raise ValueError(f'Expected `zoom` (x, y, width, height) as fractions inside the image, but got '
                                 f'{self.zoom}.')
        if self.max_lines < 1:
            raise ValueError(f'Expected `max_lines` of at least 1, but got {self.max_lines}.')
        if self.table_width < 1:
            raise ValueError(f'Expected `table_width` of at least 1 metric, but got {self.table_width}.')
        if not 0 <= self.decimals <= 10:
            raise ValueError(f'Expected `decimals` between 0 and 10, but got {self.decimals}.')
