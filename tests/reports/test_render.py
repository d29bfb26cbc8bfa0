"""Each output format of a table: CSV (every digit), Markdown, LaTeX (booktabs) and HTML (escaped)."""
from __future__ import annotations

import re

import pandas as pd

from reports.data import load_run
from reports.render import BEST, SECOND, Cell, Table, to_html, to_latex, to_markdown, write_table
from reports.tables import results_table, summarise

EVIL = 'm<script>alert(1)</script>_50%|&'


def small_table() -> Table:
    rows = [('plain', [Cell('1.0000'), Cell('2.0000', SECOND)]),
            (EVIL, [Cell('3.0000', BEST, '†‡'), Cell('0.5000', note='(-3.1%)', kind='worse')])]
    return Table('t', 'Caption with EN ↑', 'method', ['EN ↑', 'MSE ↓'], rows, ['† footnote α = 0.05'],
                 pd.DataFrame({'method': ['plain', EVIL], 'en': [1.0, 3.000012345678]}))


def test_markdown():
    md = to_markdown(small_table())
    lines = md.splitlines()
    assert lines[2] == '| method | EN ↑ | MSE ↓ |' and lines[3] == '|:---|---:|---:|'
    assert '**3.0000**<sup>†‡</sup>' in md and '<ins>2.0000</ins>' in md and '0.5000 (-3.1%)' in md
    assert r'm<script>alert(1)</script>\_50%\|&' in md  # the pipe cannot break the row
    assert all(line.count('|') - line.count(r'\|') == 4 for line in lines[2:6])
    assert lines[-1].startswith('† footnote')


def test_latex_booktabs():
    tex = to_latex(small_table())
    assert tex.index(r'\toprule') < tex.index(r'\midrule') < tex.index(r'\bottomrule')
    assert r'\begin{tabular}{lrr}' in tex and r'EN $\uparrow$ & MSE $\downarrow$' in tex
    assert r'\textbf{3.0000}\textsuperscript{\dag{}\ddag{}}' in tex and r'\underline{2.0000}' in tex
    assert r'm\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{}\_50\%|\&' in tex
    assert r'{\scriptsize (-3.1\%)}' in tex and r'$\alpha$' in tex
    body = tex[tex.index(r'\midrule'):tex.index(r'\bottomrule')]
    assert all(line.count(' & ') == 2 for line in body.splitlines()[1:])  # no unescaped & splits a row


def test_html_escapes_and_marks():
    html = str(to_html(small_table(), 'tid'))
    assert '<script>' not in html and '&lt;script&gt;' in html
    assert '<td class="best"><b>3.0000</b><sup>†‡</sup></td>' in html
    assert '<td class="second"><u>2.0000</u></td>' in html and '<small class="worse">(-3.1%)</small>' in html
    assert 'id="tid"' in html and '<p class="footnote">† footnote α = 0.05</p>' in html


def test_write_table_keeps_every_digit_in_csv(tmp_path):
    paths = write_table(small_table(), tmp_path, lambda t: f'<html>{to_html(t)}</html>')
    assert sorted(p.suffix for p in paths.values()) == ['.csv', '.html', '.md', '.tex']
    frame = pd.read_csv(paths['csv'])
    assert frame['en'].iloc[1] == 3.000012345678 and frame['method'].iloc[1] == EVIL


def test_results_table_in_every_format(make_run):
    run = make_run({'a': {'en': [6.0, 6.2], 'mse': [10.0, 12.0]}, 'b': {'en': [7.0, 7.2], 'mse': [20.0, 22.0]},
                    'c_d': {'en': [6.5, 6.7], 'mse': [15.0, 17.0]}})
    table = results_table(summarise(load_run(run), 'mini', 'default'))
    md, tex, html = to_markdown(table), to_latex(table), str(to_html(table))
    assert '| b | **7.1000**' in md and '| a | 6.1000' in md and r'c\_d' in md
    assert r'b & \textbf{7.1000}' in tex and r'c\_d & \underline{6.6000}' in tex
    assert re.search(r'<th class="label" title="b">b</th><td class="best"><b>7.1000</b>', html)
