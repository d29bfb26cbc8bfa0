"""Fidelity of the DATFuse port: the two official results of tthinking/DATFuse @ 0cd93f1 (`fusion results/001.bmp`
from pair 1, `2.bmp` from pair 2; copies in `zoo/datfuse_tno2`), fused through `run_benchmark` as a user's
`bench run` would: PSNR >= 80 dB on each and every pixel within one grey level.

Measured: 81.2 and 81.9 dB (one torch thread; 81.1 and 81.8 with two), about 0.04 % of the pixels one level off:
the authors' GPU float32 arithmetic against ours, which agrees with a float64 run to 4e-4 grey levels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.images import read_image
from bench.runner import RunConfig, run_benchmark

PAIRS = {  # pair -> official result; sha256 of the inputs in zoo/datfuse_tno2 (`source images/ir`, `vi`)
    '1': ('001.bmp', 'd0afebd61208256f98ffbd755d3a56b31d9a41dc2565c60dd724773753098c68',
          '0eaf2baebbcc1b2f1de3014e9e825661e462075e20bc57732f5ddb9c3f64beb8'),
    '2': ('2.bmp', 'dcb1cba15f545782e369d162e273b9948ebf0eb99639eaebaacad80153c36249',
          '16ba0c86ac498d73ee80a343c26e7701aca2b51e0b7d95b7827331ba453f90e7'),
}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float('inf') if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def _run_zoo(tmp: Path, data_root: Path, weights_dir: Path) -> Path:
    """Fuses the zoo pairs through `run_benchmark` with a user manifest; returns the folder of fused images."""
    toml = tmp / 'datfuse_tno2.toml'
    rows = ''.join(f'  {{ name = "{p}", ir = "ir/{p}.bmp", vi = "vi/{p}.bmp" }},\n' for p in PAIRS)
    toml.write_text(f'name = "datfuse_tno2"\ntitle = "DATFuse official samples"\n'
                    f'description = "TNO pairs of tthinking/DATFuse"\ncitation = "TNO (Toet)"\n'
                    f'licence = "none stated"\nhomepage = "https://github.com/tthinking/DATFuse"\n'
                    f'directory = "zoo/datfuse_tno2"\npairs = [\n{rows}]\n')
    toml.with_suffix('.sha256').write_text(''.join(f'{ir}  ir/{p}.bmp\n{vi}  vi/{p}.bmp\n'
                                                   for p, (_, ir, vi) in PAIRS.items()))
    out = tmp / 'run'
    summary = run_benchmark(RunConfig(methods=['datfuse'], datasets=[str(toml)], metrics=['en'], out=out,
                                      data_root=data_root, weights_dir=weights_dir, device='cpu', warmup=0,
                                      fetch=False, fallback=False, progress=False))
    assert summary.errors == 0 and summary.fused == len(PAIRS), (out / 'errors.csv').read_text()
    return out / 'fused' / 'datfuse_tno2' / 'datfuse'


@pytest.mark.slow
@pytest.mark.calibration
@pytest.mark.usefixtures('one_torch_thread')
def test_datfuse_reproduces_official_results(tmp_path, data_root, weights_dir):
    fused = _run_zoo(tmp_path, data_root, weights_dir)
    rows = []
    for pair, (result, _, _) in PAIRS.items():
        ours = read_image(fused / f'{pair}.png')
        ref = read_image(data_root / 'zoo' / 'datfuse_tno2' / 'fused' / 'DATFuse' / result)
        assert ours.shape == ref.shape
        rows.append((pair, _psnr(ours, ref), int(np.abs(ours.astype(int) - ref.astype(int)).max())))
    psnr = np.array([r[1] for r in rows])
    print(f'datfuse: PSNR min {psnr.min():.2f} median {np.median(psnr):.2f} dB, max |diff| {max(r[2] for r in rows)}')
    assert all(r[1] >= 80 and r[2] <= 1 for r in rows), rows
