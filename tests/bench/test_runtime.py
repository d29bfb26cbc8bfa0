"""`bench.runtime.tune`: applied where the user has not set the same thing, and only while it can still work."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = ('import json, os, sys; {pre}from bench import runtime; applied = runtime.tune(); '
          'print(json.dumps([applied, os.environ.get("GOMP_SPINCOUNT")]))')


def _run(env_extra: dict[str, str], pre: str = '') -> tuple[dict, str | None]:
    env = {k: v for k, v in os.environ.items()
           if k not in ('GOMP_SPINCOUNT', 'OMP_WAIT_POLICY', 'GLIBC_TUNABLES') and not k.startswith('MALLOC_')}
    out = subprocess.run([sys.executable, '-c', _PROBE.format(pre=pre)], env={**env, **env_extra},
                         capture_output=True, text=True, check=True)
    return tuple(json.loads(out.stdout))


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='the settings are for Linux (glibc, libgomp)')
def test_applies_both_on_a_clean_environment():
    applied, spin = _run({})
    assert applied == {'spin_count': True, 'malloc': True} and spin == '30000'


def test_leaves_the_users_settings_alone():
    applied, spin = _run({'GOMP_SPINCOUNT': '7', 'MALLOC_ARENA_MAX': '2'})
    assert applied == {'spin_count': False, 'malloc': False} and spin == '7'
    applied, spin = _run({'OMP_WAIT_POLICY': 'passive'})
    assert not applied['spin_count'] and spin is None


def test_spin_count_is_not_set_once_torch_is_loaded():
    applied, spin = _run({}, pre='import torch; ')
    assert not applied['spin_count'] and spin is None
