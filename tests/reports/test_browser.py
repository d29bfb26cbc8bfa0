"""The report as a person sees it: rendered by headless Chromium, with every table and image present and loaded."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars']

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason='needs Chromium for the browser check (Debian package '
                                'chromium: apt-get install -y chromium; .ci/run installs it)')

# Appended to a copy of the page only: the report itself has no script. Counts what the browser actually rendered.
PROBE = """<script>window.addEventListener('load', () => {
  const images = [...document.images];
  const tables = [...document.querySelectorAll('table.results')];
  document.body.setAttribute('data-probe', JSON.stringify({
    images: images.length,
    loaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    widths: images.map(i => i.getBoundingClientRect().width),
    tables: tables.length,
    rows: tables.map(t => t.tBodies[0].rows.length),
    bold: document.querySelectorAll('td.best b').length,
    underlined: document.querySelectorAll('td.second u').length,
    captions: tables.map(t => t.caption ? t.caption.textContent : '')}));
});</script>"""


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f'profile{len(list(tmp_path.glob("profile*")))}'
    return subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={profile}', *args], capture_output=True, text=True,
                          timeout=120)


def test_page_renders_tables_and_images(full_report, tmp_path):
    run_dir, _ = full_report
    page = tmp_path / 'report' / 'probe.html'
    shutil.copytree(run_dir / 'report', page.parent)
    page.write_text((run_dir / 'report' / 'index.html').read_text().replace('</body>', PROBE + '</body>'))
    out = chromium(tmp_path, '--virtual-time-budget=10000', '--dump-dom', page.as_uri())
    match = re.search(r'data-probe="([^"]*)"', out.stdout)
    assert match, out.stderr[-2000:]
    probe = json.loads(match.group(1).replace('&quot;', '"').replace('&amp;', '&'))
    assert probe['images'] == probe['loaded'] == 6 and min(probe['widths']) > 100
    assert probe['tables'] == 6 and all(n >= 1 for n in probe['rows'])
    assert probe['bold'] >= 3 and probe['underlined'] >= 2
    assert any('ablation of net' in c for c in probe['captions'])


def test_screenshot_is_a_rendered_page(full_report, tmp_path):
    run_dir, _ = full_report
    shot = tmp_path / 'shot.png'
    out = chromium(tmp_path, '--window-size=1280,2000', f'--screenshot={shot}',
                   (run_dir / 'report' / 'index.html').as_uri())
    assert shot.is_file(), out.stderr[-2000:]
    image = cv2.imread(str(shot), cv2.IMREAD_GRAYSCALE)
    assert image.shape == (2000, 1280)
    ink = (image < 200).mean()
    assert 0.02 < ink < 0.8, ink  # text, tables and figures drawn: neither blank nor a solid block
    assert len(np.unique(image)) > 64  # figures with grey levels, not just text


WIDTH_PROBE = """<script>window.addEventListener('load', () => {
  const page = document.body.clientWidth - parseFloat(getComputedStyle(document.body).paddingLeft)
               - parseFloat(getComputedStyle(document.body).paddingRight);
  const tables = [...document.querySelectorAll('table.results')].map(t => ({
    caption: t.caption ? t.caption.textContent : '', width: t.getBoundingClientRect().width}));
  document.body.setAttribute('data-probe', JSON.stringify({page: page, tables: tables}));
});</script>"""


@pytest.mark.parametrize('std', [False, True])
def test_tables_of_31_metrics_and_11_methods_fit_a_1400_px_page(tmp_path, std):
    """The page is 1400 px at most; before metric groups the results table of 31 metrics was 2,232 px wide."""
    from reports import ReportOptions, write_report
    from tests.reports.test_readability import ALL_31, ELEVEN, big_run
    meta = {'methods': {m: {'kind': 'published'} for m in ELEVEN[4:]}}
    run = big_run(tmp_path / 'run', ELEVEN, ALL_31, meta_extra=meta)
    page = write_report(run, ReportOptions(figures=False, std=std))
    page.write_text(page.read_text().replace('</body>', WIDTH_PROBE + '</body>'))
    out = chromium(tmp_path, '--window-size=1400,2000', '--virtual-time-budget=10000', '--dump-dom', page.as_uri())
    match = re.search(r'data-probe="([^"]*)"', out.stdout)
    assert match, out.stderr[-2000:]
    probe = json.loads(match.group(1).replace('&quot;', '"').replace('&amp;', '&'))
    results = [t for t in probe['tables'] if 'mean over pairs' in t['caption'] or 'rank' in t['caption']]
    assert len(results) == 5 + 1 + 5
    too_wide = [(t['caption'], round(t['width'])) for t in results if t['width'] > probe['page']]
    assert not too_wide, (probe['page'], too_wide)
