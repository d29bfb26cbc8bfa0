"""`score_images(stored_rgb=...)`: conventions that read files as stored see gray images stored as RGB as RGB."""
from __future__ import annotations

import pytest
import torch

from metrics import get_convention, list_conventions, list_metrics, score_images
from metrics.sf import spatial_frequency_per_pixel, spatial_frequency_vifb_colour


def _gray(seed: int, n: int = 1, size: tuple[int, int] = (24, 29)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, *size), generator=g).to(torch.float64)


def _rgb(seed: int) -> torch.Tensor:
    return torch.cat([_gray(seed + k) for k in range(3)], dim=1)


def test_only_vifb_and_mefb_read_the_stored_layout():
    assert [c for c in list_conventions() if get_convention(c).stored_layout] == ['mefb', 'vifb']


def test_vifb_sf_of_a_gray_image_stored_as_rgb_reads_the_channels_side_by_side():
    f, a, b = _gray(0), _gray(1), _gray(2)
    stored = score_images(f, a, b, ['sf'], 'vifb', stored_rgb=(True, False, True))['sf']
    assert stored.item() == pytest.approx(spatial_frequency_vifb_colour(f.repeat(1, 3, 1, 1)).item(), rel=1e-15)
    gray = score_images(f, a, b, ['sf'], 'vifb')['sf']
    assert gray.item() == pytest.approx(spatial_frequency_per_pixel(f).item(), rel=1e-15)
    assert abs(stored.item() / gray.item() - 1) > 1e-3   # the two seams between the channels add differences


@pytest.mark.parametrize('convention', ['vifb', 'mefb'])
def test_equal_channels_change_no_other_metric(convention):
    # Every other metric of these conventions scores a colour image channel by channel (or as MEFB's channel 1),
    # so three equal channels give the gray value, up to the rounding of averaging three equal numbers.
    f, a, b = (_gray(seed, size=(44, 48)) for seed in (3, 4, 5))   # ViFF needs 41 x 41
    names = [m for m in list_metrics(convention=convention) if m not in ('sf', 'fmi_edge')]
    gray = score_images(f, a, b, names, convention)
    for flags in [(True, False, True), (False, True, True)]:   # both of VIFB's branches (3-channel fused or not)
        stored = score_images(f, a, b, names, convention, stored_rgb=flags)
        for m in names:
            assert stored[m].item() == pytest.approx(gray[m].item(), rel=1e-12, abs=1e-12), (m, flags)


@pytest.mark.parametrize('convention', ['default', 'cddfuse', 'tang2022', 'tang2023'])
def test_other_conventions_ignore_the_flags(convention):
    f, a, b = _gray(6), _gray(7), _gray(8)
    names = ['sf', 'en', 'sd', 'ag']
    plain = score_images(f, a, b, names, convention)
    flagged = score_images(f, a, b, names, convention, stored_rgb=(True, True, True))
    assert all(torch.equal(plain[m], flagged[m]) for m in names)


def test_a_batch_of_mixed_layouts_scores_each_triple_as_stored():
    f, a, b = _gray(9, n=3), _gray(10, n=3), _gray(11, n=3)
    fused_rgb = [True, False, True]
    batch = score_images(f, a, b, ['sf', 'en'], 'vifb', stored_rgb=(fused_rgb, False, [False, True, False]))
    for i in range(3):
        one = score_images(f[i:i + 1], a[i:i + 1], b[i:i + 1], ['sf', 'en'], 'vifb',
                           stored_rgb=(fused_rgb[i], False, i == 1))
        assert batch['sf'][i].item() == one['sf'].item() and batch['en'][i].item() == one['en'].item()
    assert batch['sf'][0].item() != score_images(f[:1], a[:1], b[:1], ['sf'], 'vifb')['sf'].item()


def test_mefb_scores_channel_1_only_when_both_sources_are_stored_gray():
    # MEFB takes channel 1 of a colour fused image only when both source files have one channel; with sources
    # stored as RGB it scores every channel and averages (metrics*.m's `else` branch).
    f, a, b = _rgb(12), _gray(15), _gray(16)
    first = score_images(f[:, :1], a, b, ['sf'], 'mefb')['sf']
    assert score_images(f, a, b, ['sf'], 'mefb')['sf'].item() == first.item()
    stored = score_images(f, a, b, ['sf'], 'mefb', stored_rgb=(True, True, True))['sf']
    per_channel = torch.stack([spatial_frequency_per_pixel(f[:, k:k + 1]) for k in range(3)]).mean()
    assert stored.item() == pytest.approx(per_channel.item(), rel=1e-15)


def test_colour_images_are_unaffected_by_their_flags():
    f, a, b = _rgb(17), _gray(20), _rgb(21)
    plain = score_images(f, a, b, ['sf', 'mi'], 'vifb')
    flagged = score_images(f, a, b, ['sf', 'mi'], 'vifb', stored_rgb=(True, False, True))
    assert all(torch.equal(plain[m], flagged[m]) for m in ('sf', 'mi'))


@pytest.mark.parametrize('stored_rgb, message', [((True, False), 'fused, ir, vis'),
                                                 (([True, False, True], False, False), 'one per image')])
def test_flags_that_do_not_fit_the_batch_are_refused(stored_rgb, message):
    f = _gray(22, n=2)
    with pytest.raises(ValueError, match=message):
        score_images(f, f, f, ['sf'], 'vifb', stored_rgb=stored_rgb)
