"""Independent numpy/scipy transcriptions of the MATLAB pieces that several MEFB / VIFB metric references share.

MATLAB built-ins (fspecial('gaussian'), filter2 'valid', freqspace), MEFB's normalize1.m, the 256 x 256 joint
histogram with its log2 entropies (metricsNMI.m, NCC.m, metricsTE.m), the local statistics of Wang's ssim_index.m
and MEFB's ssim_yang (metricsQy.m, metricsQc.m), and the four scales of vifp_mscale.m with its variance fix-ups
(metricsVIF.m's ComVidVindG uses the same). The metric tests build their per-metric references from these.

They are written from the reference code's behaviour and import nothing from `metrics/`: they check it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import correlate2d


def fspecial_gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """MATLAB fspecial('gaussian', size, sigma): taps below eps * max set to 0, normalised to sum 1.

    >>> w = fspecial_gaussian(7, 1.5)
    >>> w.shape, bool(abs(w.sum() - 1) < 1e-15), bool(w[3, 3] == w.max())
    ((7, 7), True, True)
    """
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    g[g < np.finfo(float).eps * g.max()] = 0
    return g / g.sum()


def filter2_valid(x: np.ndarray, win: np.ndarray) -> np.ndarray:
    """MATLAB filter2(win, x, 'valid') (a correlation), empty when x is smaller than the window."""
    if x.shape[0] < win.shape[0] or x.shape[1] < win.shape[1]:
        return np.zeros((max(x.shape[0] - win.shape[0] + 1, 0), max(x.shape[1] - win.shape[1] + 1, 0)))
    return correlate2d(x, win, mode='valid')


def freqspace(h: int, w: int) -> list[np.ndarray]:
    """MATLAB [f1, f2] = freqspace([h w], 'meshgrid'): (u, v) frequency grids in units of the Nyquist rate."""
    f1 = (np.arange(w) - np.floor(w / 2)) * (2 / w)
    f2 = (np.arange(h) - np.floor(h / 2)) * (2 / h)
    return np.meshgrid(f1, f2)


def normalize1(x: np.ndarray) -> np.ndarray:
    """MEFB normalize1.m: stretch to 0..255, MATLAB round (half away from zero); all-zero images unchanged.

    >>> normalize1(np.array([0., 55., 66., 10.])).tolist()     # 212.5 rounds up
    [0.0, 213.0, 255.0, 39.0]
    """
    hi, lo = x.max(), x.min()
    if hi == 0 and lo == 0:
        return x
    v = (x - lo) / (hi - lo) * 255
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def joint_histogram(im1: np.ndarray, im2: np.ndarray) -> np.ndarray:
    """MEFB's 256 x 256 joint histogram of two 0..255 integer-valued images (row: im1's level), summing to 1."""
    h = np.zeros((256, 256))
    np.add.at(h, (im1.astype(int).ravel(), im2.astype(int).ravel()), 1)
    return h / h.sum()


def entropy_bits(p: np.ndarray) -> float:
    """MEFB's -sum(p .* log2(p + (p == 0))) over a whole (marginal or joint) distribution."""
    return -np.sum(p * np.log2(p + (p == 0)))


def histogram_entropies(im1: np.ndarray, im2: np.ndarray) -> tuple[float, float, float]:
    """(H of sum(h), H of sum(h, 2), H of h) in bits for MEFB's joint histogram h of im1 and im2.

    MATLAB's sum(h) adds the columns, so the first entropy is im2's and the second im1's; MEFB's callers keep that
    order (mutual_info.m returns them as H_x, H_y).
    """
    h = joint_histogram(im1, im2)
    return entropy_bits(h.sum(axis=0)), entropy_bits(h.sum(axis=1)), entropy_bits(h)


class LocalStatistics(NamedTuple):
    """filter2 'valid' local means, variances and covariance of two images, MATLAB's names."""
    mu1: np.ndarray
    mu2: np.ndarray
    sigma1_sq: np.ndarray
    sigma2_sq: np.ndarray
    sigma12: np.ndarray


def local_statistics(img1: np.ndarray, img2: np.ndarray, win: np.ndarray,
                     products: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> LocalStatistics:
    """mu = filter2(win, img), sigma_sq = filter2(win, img .* img) - mu .* mu, sigma12 likewise.

    `products`: (img1 .* img1, img2 .* img2, img1 .* img2) as the caller's MATLAB computes them (e.g. saturating
    uint8 products) instead of the plain double ones.
    """
    p11, p22, p12 = (img1 * img1, img2 * img2, img1 * img2) if products is None else products
    mu1, mu2 = filter2_valid(img1, win), filter2_valid(img2, win)
    return LocalStatistics(mu1, mu2, filter2_valid(p11, win) - mu1 * mu1, filter2_valid(p22, win) - mu2 * mu2,
                           filter2_valid(p12, win) - mu1 * mu2)


class SsimMaps(NamedTuple):
    """An SSIM map with the local (co)variances it was computed from."""
    ssim: np.ndarray
    sigma1_sq: np.ndarray
    sigma2_sq: np.ndarray
    sigma12: np.ndarray


def ssim_maps(img1: np.ndarray, img2: np.ndarray, size: int = 11, sigma: float = 1.5, c1: float = (0.01 * 255) ** 2,
              c2: float = (0.03 * 255) ** 2, exact_flat: bool = False) -> SsimMaps:
    """The SSIM map of Wang's ssim_index.m (defaults: 11 x 11 Gaussian of 1.5, K = (0.01, 0.03), L = 255, 'valid').

    With `exact_flat`, windows where an image is constant get zero variance and covariance (what exact arithmetic
    gives; the rounding noise of E[x^2] - E[x]^2 would decide the ratios there otherwise).
    """
    mu1, mu2, s1, s2, s12 = local_statistics(img1, img2, fspecial_gaussian(size, sigma))
    if exact_flat:
        flat1 = np.ptp(sliding_window_view(img1, (size, size)), axis=(-2, -1)) == 0
        flat2 = np.ptp(sliding_window_view(img2, (size, size)), axis=(-2, -1)) == 0
        s1[flat1], s2[flat2], s12[flat1 | flat2] = 0, 0, 0
    ssim = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s1 + s2 + c2))
    return SsimMaps(ssim, s1, s2, s12)


def ssim_yang(img1: np.ndarray, img2: np.ndarray, exact_flat: bool = True) -> SsimMaps:
    """MEFB's ssim_yang (metricsQy.m, metricsQc.m): filter2 'valid' with a 7 x 7 Gaussian (1.5), C1 = C2 = 2e-16."""
    return ssim_maps(img1, img2, size=7, sigma=1.5, c1=2e-16, c2=2e-16, exact_flat=exact_flat)


def vifp_scales(ref: np.ndarray, dist: np.ndarray):
    """vifp_mscale.m's four scales: yields (ref, dist, win), the images low-passed and decimated from scale 2 on."""
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = fspecial_gaussian(n, n / 5)
        if scale > 1:
            ref, dist = filter2_valid(ref, win)[::2, ::2], filter2_valid(dist, win)[::2, ::2]
        yield ref, dist, win


def vif_gain_and_noise(ref: np.ndarray, dist: np.ndarray, win: np.ndarray,
                       products: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
    """One scale of vifp_mscale.m: (g, sv_sq, sigma1_sq) after its clamps and thresholds, in its order.

    `products` as in `local_statistics`.
    """
    _, _, sigma1_sq, sigma2_sq, sigma12 = local_statistics(ref, dist, win, products)
    sigma1_sq[sigma1_sq < 0] = 0
    sigma2_sq[sigma2_sq < 0] = 0
    g = sigma12 / (sigma1_sq + 1e-10)
    sv_sq = sigma2_sq - g * sigma12
    g[sigma1_sq < 1e-10] = 0
    sv_sq[sigma1_sq < 1e-10] = sigma2_sq[sigma1_sq < 1e-10]
    sigma1_sq[sigma1_sq < 1e-10] = 0
    g[sigma2_sq < 1e-10] = 0
    sv_sq[sigma2_sq < 1e-10] = 0
    sv_sq[g < 0] = sigma2_sq[g < 0]
    g[g < 0] = 0
    sv_sq[sv_sq <= 1e-10] = 1e-10
    return g, sv_sq, sigma1_sq
