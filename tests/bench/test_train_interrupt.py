"""`bench train` under SIGINT and SIGTERM: a real training process, interrupted after its first step, leaves the
checkpoint of its last finished step; running the same command again ends with the weights of an uninterrupted run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from bench.interrupts import Interrupted, Interrupts
from bench.training import TrainConfig, train
from tests.conftest import REPO

# 3 epochs x 4 steps of 2 patches of 32x32 on the synthetic set: steps of tens of milliseconds, enough of them that
# the signal lands long before the end.
TINY = dict(method='dfecf', data=['synthetic'], epochs=3, patches_per_epoch=8, batch_size=2, patch_size=32,
            decay_after=1, seed=5, bn_batches=1)
STEPS = 12
ARGS = ['train', 'dfecf', '--data', 'synthetic', '--epochs', '3', '--patches-per-epoch', '8', '--batch-size', '2',
        '--patch-size', '32', '--decay-after', '1', '--seed', '5', '--bn-batches', '1', '--threads', '1',
        '--no-progress']


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp('whole')
    train(TrainConfig(**TINY), out, data_root=out / 'data', threads=1, progress=False, log=lambda *a: None)
    return torch.load(out / 'checkpoint.pt', weights_only=True)


def _bench_train(out):
    return [sys.executable, '-m', 'bench'] + ARGS + ['--out', str(out), '--data-root', str(out / 'data')]


def _interrupt_after_first_step(out, signum) -> tuple[int, list[str], str]:
    """Runs `bench train` until it logs its first finished step, sends `signum`; (exit code, step lines, stderr)."""
    # SIGINT as in an interactive shell, even where pytest itself runs with it ignored (`nohup`, `cmd &`)
    proc = subprocess.Popen(_bench_train(out), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = [proc.stdout.readline()]
        assert lines[0].startswith(f'step 1/{STEPS} '), lines[0] + proc.stderr.read()
        proc.send_signal(signum)
        rest, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, lines + rest.splitlines(), err


@pytest.mark.parametrize('signum, code', [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_training_process_saves_its_last_step_and_resumes_exactly(tmp_path, uninterrupted, signum, code):
    out = tmp_path / 'run'
    returncode, lines, err = _interrupt_after_first_step(out, signum)
    assert returncode == code, err
    assert 'Everything finished so far is saved' in err
    done = [line for line in lines if line.startswith('step ')]
    saved = torch.load(out / 'checkpoint.pt', weights_only=True)
    # Every step the process reported finished is in the checkpoint, and the run was stopped before its end.
    assert 1 <= len(saved['history']) == len(done) < STEPS
    assert f'checkpoint of step {len(done)}/{STEPS} written' in '\n'.join(lines)

    resumed = subprocess.run(_bench_train(out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f'Resuming dfecf from {out / "checkpoint.pt"}' in resumed.stdout
    final = torch.load(out / 'checkpoint.pt', weights_only=True)
    assert final['model'].keys() == uninterrupted['model'].keys()
    assert all(torch.equal(final['model'][k], uninterrupted['model'][k]) for k in final['model'])
    assert all(torch.equal(a, b) for a, b in zip(_tensors(final['optimizer']), _tensors(uninterrupted['optimizer'])))
    losses = [{k: v for k, v in row.items() if k != 'seconds'} for row in final['history']]
    assert losses == [{k: v for k, v in row.items() if k != 'seconds'} for row in uninterrupted['history']]


def _tensors(optimizer_state: dict) -> list[torch.Tensor]:
    return [t for state in optimizer_state['state'].values() for t in state.values()]


@pytest.fixture
def sigint_not_ignored():
    """SIGINT handled as in an interactive shell (pytest may run with it ignored: `nohup`, `cmd &`)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_signal_inside_a_deferred_block_is_raised_when_the_block_ends(sigint_not_ignored):
    finished = []
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)  # Ray, run earlier, may have set its own
    with Interrupts() as interrupts:
        with pytest.raises(Interrupted) as caught:
            with interrupts.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                finished.append('update')  # the signal waits for the block
        assert finished == ['update'] and caught.value.exit_code == 143
        with pytest.raises(Interrupted) as caught:
            os.kill(os.getpid(), signal.SIGINT)
            signal.pthread_sigmask(signal.SIG_SETMASK, [])  # gives the handler a chance to run here
        assert caught.value.exit_code == 130 and isinstance(caught.value, KeyboardInterrupt)
    # the previous handlers are back
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with Interrupts():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)  # nohup's case: nothing happens
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
