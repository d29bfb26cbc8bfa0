"""Qualitative grids (Figures 5 and 7): rows are pairs, columns IR, visible and each method's fused image, with
the same zoomed inset box on every panel of a row.

Images are found the way the run found them: sources through the data set's manifest under the data root recorded
in run.json, fused images in the run folder (registered methods) or in the published results folder.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reports.data import RunData
from reports.figures import _plt, short_name
from reports.tables import GroupSummary

__all__ = ['ImageFinder', 'disagreement', 'choose_pairs', 'zoom_box', 'grid_shape', 'grid_figure']

MAX_SIDE = 640     # panels are drawn from images at most this wide or high (keeps the PDF small)
BOX_FRACTION = 0.22
INSET_FRACTION = 0.42
MAX_COLUMNS = 6    # panels a row: about 1.9 in each, so a row fits a 1400 px page at full size


@dataclass
class ImageFinder:
    """Paths of the source and fused images of one data set of a run."""
    run: RunData
    dataset: str
    data_root: Path | None = None

    def __post_init__(self) -> None:
        from bench.datasets import load_manifest
        facts = self.run.meta.get('datasets', {}).get(self.dataset, {})
        self.manifest = load_manifest(facts.get('manifest', self.dataset))
        self.pairs = {p.name: p for p in self.manifest.pairs}
        if self.data_root is not None:
            self.root = self.manifest.root(Path(self.data_root))
        elif facts.get('root'):
            self.root = Path(facts['root'])
        else:  # run folders of the first version: the data root of the last invocation
            from bench.config import data_root
            invocations = self.run.meta.get('invocations') or [{}]
            self.root = self.manifest.root(Path(invocations[-1].get('data_root') or data_root()))

    def sources(self, pair: str) -> tuple[Path, Path]:
        p = self.pairs[pair]
        return self.root / p.ir, self.root / p.vi

    def fused(self, method: str, pair: str) -> Path | None:
        """The fused image file of `method` for `pair`, None when there is none."""
        facts = self.run.meta.get('methods', {}).get(method, {})
        if facts.get('kind') == 'published':
            from bench.published import PublishedResults
            folder = facts.get('folders', {}).get(self.dataset) or facts.get('folder')
            try:
                return PublishedResults(method, Path(folder), facts.get('pattern')).find(self.pairs[pair])
            except (FileNotFoundError, KeyError, TypeError):
                return None
        path = self.run.run_dir / 'fused' / self.dataset / method / f'{pair}.png'
        return path if path.is_file() else None


def _read(path: Path | None) -> np.ndarray | None:
    if path is None:
        return None
    from bench.images import read_image
    try:
        return read_image(path)
    except Exception:  # unreadable: the panel says "missing" instead of failing the report
        return None


def disagreement(summary: GroupSummary) -> pd.Series:
    """Per pair: how much the methods disagree, the mean over metrics of the spread (std) across methods of the
    values standardised per metric over the whole table. Pairs where one method stands out score high."""
    spreads = []
    for info in summary.metrics:
        values = summary.values[info.name]
        scale = np.nanstd(values.to_numpy())
        if values.shape[1] < 2 or not np.isfinite(scale) or scale == 0:
            continue
        spreads.append(((values - np.nanmean(values.to_numpy())) / scale).std(axis=1, ddof=0))
    if not spreads:
        return pd.Series(dtype=float)
    return pd.concat(spreads, axis=1).mean(axis=1).dropna()


def choose_pairs(summary: GroupSummary, k: int) -> list[str]:
    """The `k` pairs where the methods disagree most, in data set order; evenly spread ones with one method."""
    pairs = list(summary.values[summary.metrics[0].name].index) if summary.metrics else []
    score = disagreement(summary)
    if score.empty:
        idx = np.linspace(0, len(pairs) - 1, min(k, len(pairs))).round().astype(int) if pairs else []
        return [pairs[i] for i in dict.fromkeys(idx)]
    top = set(score.sort_values(ascending=False, kind='stable').index[:k])
    return [p for p in pairs if p in top]


def _gray(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float64)
    return image if image.ndim == 2 else image @ np.array([0.299, 0.587, 0.114])


def _detail(image: np.ndarray) -> np.ndarray:
    """Gradient magnitude of the gray image (central differences): where edges and texture are."""
    gray = _gray(image)
    gy, gx = np.gradient(gray)
    return np.hypot(gx, gy)


def zoom_box(images: list[np.ndarray], fraction: float = BOX_FRACTION) -> tuple[float, float, float, float]:
    """The square box (x, y, w, h as fractions of width and height) where the images' details differ most: the
    window with the largest summed standard deviation, across the images, of their gradient magnitudes (so edges
    and texture that one method keeps and another loses, not a uniform brightness offset), away from the border.

    Example:
        >>> a = np.zeros((100, 200)); b = a.copy(); b[60:80, 150:170] = 255
        >>> x, y, w, h = zoom_box([a, b])
        >>> bool(x <= 0.75 <= x + w and y <= 0.6 <= y + h)
        True
    """
    stack = np.stack([_detail(i) for i in images])
    height, width = stack.shape[1:]
    side = max(2, int(round(fraction * min(height, width))))
    spread = stack.std(axis=0)
    integral = np.pad(spread.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = integral[side:, side:] - integral[:-side, side:] - integral[side:, :-side] + integral[:-side, :-side]
    margin = max(1, side // 8)  # keep the box off the very edge, where padding artefacts live
    inner = sums[margin:max(margin + 1, sums.shape[0] - margin), margin:max(margin + 1, sums.shape[1] - margin)]
    y, x = np.unravel_index(np.argmax(inner), inner.shape)
    y, x = y + margin, x + margin
    return x / width, y / height, side / width, side / height


def _same_size(images: list[np.ndarray]) -> list[np.ndarray]:
    return [i for i in images if i.shape[:2] == images[0].shape[:2]] if images else []


def _downsized(image: np.ndarray) -> np.ndarray:
    import cv2
    height, width = image.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)


def _show(ax, image: np.ndarray | None, box: tuple[float, float, float, float], colour: str = '#ff3030') -> None:
    from matplotlib.patches import Rectangle
    ax.set_xticks([])
    ax.set_yticks([])
    if image is None:
        ax.set_facecolor('#eeeeee')
        ax.text(0.5, 0.5, 'missing', ha='center', va='center', transform=ax.transAxes, fontsize=8, color='#888')
        return
    gray = image.ndim == 2
    small = _downsized(image)
    ax.imshow(small, cmap='gray' if gray else None, vmin=0, vmax=255, interpolation='antialiased')
    height, width = image.shape[:2]
    sh, sw = small.shape[:2]
    bx, by, bw, bh = box
    ax.add_patch(Rectangle((bx * sw - 0.5, by * sh - 0.5), bw * sw, bh * sh, fill=False, edgecolor=colour, lw=1.0))
    x0, y0 = int(round(bx * width)), int(round(by * height))
    crop = image[y0:y0 + max(1, int(round(bh * height))), x0:x0 + max(1, int(round(bw * width)))]
    # The inset goes to the corner farthest from the box; square in display units like the box.
    inset_w = INSET_FRACTION
    inset_h = min(0.6, inset_w * (crop.shape[0] / crop.shape[1]) * (width / height))
    inset_w = inset_h * (crop.shape[1] / crop.shape[0]) * (height / width)
    right = bx + bw / 2 < 0.5
    top = by + bh / 2 > 0.5  # image rows grow downwards: a box in the lower half sends the inset up
    inset = ax.inset_axes([1 - inset_w if right else 0, 1 - inset_h if top else 0, inset_w, inset_h])
    inset.imshow(crop, cmap='gray' if gray else None, vmin=0, vmax=255, interpolation='nearest')
    inset.set_xticks([])
    inset.set_yticks([])
    for spine in inset.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(1.2)


def grid_shape(n_panels: int, max_columns: int = MAX_COLUMNS) -> tuple[int, int]:
    """(rows, columns) of one pair's panels: at most `max_columns` a row, the rows as evenly filled as possible
    (13 panels: 3 rows of 5, not 6 + 6 + 1).

    Example:
        >>> grid_shape(5), grid_shape(13), grid_shape(7)
        ((1, 5), (3, 5), (2, 4))
    """
    rows = -(-n_panels // max_columns)
    return rows, -(-n_panels // rows)


def grid_figure(finder: ImageFinder, pairs: list[str], methods: list[str], title: str,
                zoom: tuple[float, float, float, float] | None = None, labels: dict[str, str] | None = None,
                max_columns: int = MAX_COLUMNS):
    """Per pair: IR, visible, then `methods`, wrapped into rows of at most `max_columns` panels (a row of 13
    panels leaves each about 100 px on a page). Returns (figure, {pair: box used})."""
    plt = _plt()
    labels = labels or {}
    rows, boxes = [], {}
    for pair in pairs:
        ir_path, vi_path = finder.sources(pair)
        images = [_read(ir_path), _read(vi_path)] + [_read(finder.fused(m, pair)) for m in methods]
        if zoom is not None:
            box = zoom
        else:  # where the fused images differ; with fewer than two of them, where the sources differ
            basis = _same_size([i for i in images[2:] if i is not None])
            basis = basis if len(basis) >= 2 else _same_size([i for i in images if i is not None])
            box = zoom_box(basis) if len(basis) >= 2 else (0.39, 0.39, 0.22, 0.22)
        boxes[pair] = box
        reference = next((i for i in images if i is not None), None)
        aspect = reference.shape[0] / reference.shape[1] if reference is not None else 0.75
        rows.append((pair, images, aspect))
    names = ['IR', 'visible'] + [labels.get(m, short_name(m, 20)) for m in methods]
    n_rows, n_cols = grid_shape(len(names), max_columns)
    wrapped = n_rows > 1  # then every panel is titled: a column no longer holds one method
    # A fixed layout (inches): images fill their cells exactly, so no layout engine has to measure anything.
    col_width, gap, left, top, bottom = 1.9, 0.06, 0.3, 0.55, 0.1
    title_h = 0.2 if wrapped else 0.0    # room for the panel titles of the second and later rows
    pair_gap = 0.2 if wrapped else gap    # pairs apart from one another more than rows of one pair
    heights = [col_width * aspect for _, _, aspect in rows]
    width = left + n_cols * col_width + (n_cols - 1) * gap + 0.05
    height = top + sum(n_rows * h + (n_rows - 1) * (gap + title_h) for h in heights) + \
        (len(rows) - 1) * (pair_gap + title_h) + bottom
    fig = plt.figure(figsize=(width, height))
    y = height - top
    for r, (pair, images, _) in enumerate(rows):
        if r:
            y -= pair_gap + title_h
        for k, image in enumerate(images):
            row, c = divmod(k, n_cols)
            if c == 0 and row:
                y -= gap + title_h
            if c == 0:
                y -= heights[r]
            x = left + c * (col_width + gap)
            ax = fig.add_axes((x / width, y / height, col_width / width, heights[r] / height))
            _show(ax, image, boxes[pair])
            if r == 0 or wrapped:
                ax.set_title(names[k], fontsize=8, pad=3)
            if k == 0:
                ax.set_ylabel(f'pair {pair}', fontsize=8, labelpad=2)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height, va='top')
    return fig, boxes
