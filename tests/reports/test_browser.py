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
