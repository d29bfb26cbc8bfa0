"""Every shipped manifest is complete; with the shared data present, every file verifies."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.datasets import ManifestError, list_datasets, load_manifest, load_pair, verify

SHIPPED = [n for n in list_datasets() if n != 'synthetic']


def test_expected_manifests_are_shipped():
    assert {'tno42', 'tno21', 'msrs', 'roadscene', 'roadscene44_csf', 'vifb21', 'vifbench12'} <= set(SHIPPED)


@pytest.mark.parametrize('name', SHIPPED)
def test_manifest_is_complete(name):
    m = load_manifest(name)
    assert m.name == name
    for text in (m.title, m.description, m.citation, m.licence, m.homepage, m.directory):
        assert text.strip()
    names = [p.name for p in m.pairs]
    assert names and len(names) == len(set(names)), 'pair names must be unique'
    pair_files = {f for p in m.pairs for f in (p.ir, p.vi)}
    assert pair_files <= set(m.checksums), 'every pair file needs a sha256'
    for path, digest in m.checksums.items():
        assert len(digest) == 64 and int(digest, 16) >= 0
        url, member = m.source_of(path)
        assert url.startswith('https://'), (path, url)
        assert member is None or url.endswith('.zip')
    for res in m.results.values():
        assert any(f.startswith(res.dir + '/') for f in m.checksums), f'results {res.name} lists no files'
        assert '{' in res.pattern


def test_msrs_official_splits():
    m = load_manifest('msrs')
    assert len(m.official_splits['train']) == 1083 and len(m.official_splits['test']) == 361
    for pair in m.pairs:
        assert pair.split in ('train', 'test')
        assert f'{pair.name}.png' in m.official_splits[pair.split]


def test_unknown_dataset_suggests():
    with pytest.raises(KeyError, match="Unknown dataset 'tno24'. Did you mean 'tno42'|Did you mean 'tno21'"):
        load_manifest('tno24')


def test_user_manifest_errors(tmp_path):
    bad = tmp_path / 'bad.toml'
    bad.write_text('name = "bad"\npairs = [\n')
    with pytest.raises(ManifestError, match='not valid TOML'):
        load_manifest(str(bad))
    bad.write_text('name = "bad"\n')
    with pytest.raises(ManifestError, match='lacks title'):
        load_manifest(str(bad))


@pytest.mark.parametrize('name', SHIPPED)
def test_manifest_files_verify_against_shared_data(name, data_root):
    m = load_manifest(name)
    assert verify(m, data_root) == {}


@pytest.mark.parametrize('name', SHIPPED)
def test_declared_results_match_their_files(name, data_root):
    """Each declared results folder: every listed file is found for exactly one pair through its pattern."""
    from bench.published import PublishedResults, ResultNotFound
    m = load_manifest(name)
    for res in m.results.values():
        finder = PublishedResults(res.name, m.path(data_root, res.dir), res.pattern)
        found = []
        for pair in m.pairs:
            try:
                found.append(Path(os.path.relpath(finder.find(pair), m.root(data_root))).as_posix())
            except ResultNotFound:
                pass
        listed = sorted(f for f in m.checksums if f.startswith(res.dir + '/'))
        assert sorted(found) == listed, res.name


def test_loading_keeps_visible_as_stored(data_root):
    tno = load_manifest('tno42')
    pair = load_pair(tno, tno.pairs[0], data_root)       # TNO stores gray as 3 identical channels
    assert pair.ir.ndim == 2 and pair.vis.ndim == 2 and pair.ir.shape == (576, 768)
    vb = load_manifest('vifbench12')
    pair = load_pair(vb, vb.pairs[0], data_root)          # MSRS visible images are colour
    assert pair.ir.ndim == 2 and pair.vis.shape == (*pair.ir.shape, 3)
