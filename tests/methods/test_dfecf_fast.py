"""DFECF's fast arithmetic (the default) computes the reference one's function: outputs and gradients agree."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest
import torch

from methods import create_method
from methods.dfecf import build_network
from methods.dfecf.heap import _mallopt
from methods.dfecf.network import ConvBNAct, TransformerBlock, TransposedSelfAttention
from tests.conftest import REPO


def _rand(*shape, seed=0, dtype=torch.float64):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize('heads', [1, 2])
def test_attention_on_tokens_equals_the_reference(heads):
    attn = TransposedSelfAttention(4, heads=heads).double()
    with torch.no_grad():
        attn.theta.copy_(torch.linspace(0.5, 3, 12).view(3, 4, 1))
    x = _rand(2, 4, 3, 5, seed=5)
    tokens = x.permute(0, 2, 3, 1).reshape(2, 15, 4)
    fast = attn.tokens(tokens).reshape(2, 3, 5, 4).permute(0, 3, 1, 2)
    torch.testing.assert_close(fast, attn(x), rtol=1e-12, atol=1e-14)


def test_transformer_block_fast_equals_reference_with_gradients():
    block = TransformerBlock(8, heads=2).double()
    x = _rand(2, 8, 6, 7, seed=1).requires_grad_()
    results = []
    for fast in (False, True):
        block.fast = fast
        block.zero_grad()
        x.grad = None
        out = block(x)
        (out * _rand(*out.shape, seed=2)).sum().backward()
        results.append([out.detach(), x.grad.clone()] + [p.grad.clone() for p in block.parameters()])
    for reference, fast in zip(*results):
        torch.testing.assert_close(fast, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('variant', ['dfecf', 'dfecf-no-fusion', 'dfecf-no-transformer'])
def test_network_fast_equals_reference_in_training_mode(variant):
    torch.manual_seed(0)
    net = build_network(variant).double().train()
    ir, vis = _rand(2, 1, 12, 10, seed=3), _rand(2, 1, 12, 10, seed=4)
    results = []
    for fast in (False, True):
        net.set_fast(fast).zero_grad()
        out = net(ir, vis)
        out.square().mean().backward()
        results.append([out.detach()] + [p.grad.clone() for p in net.parameters()])
    for reference, fast in zip(*results):
        torch.testing.assert_close(fast, reference, rtol=1e-10, atol=1e-13)


def test_inference_folds_batch_norm_and_uses_nnpack_in_float32(monkeypatch):
    torch.manual_seed(1)
    net = build_network('dfecf')
    with torch.no_grad():   # batch-norm statistics away from (0, 1), so that folding them matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    net.eval()
    ir, vis = _rand(1, 1, 30, 41, seed=5, dtype=torch.float32), _rand(1, 1, 30, 41, seed=6, dtype=torch.float32)
    with torch.no_grad():
        exact = net.double().set_fast(False)(ir.double(), vis.double())
        net.float()
        reference = net.set_fast(False)(ir, vis)
        calls = []
        nnpack = torch._nnpack_spatial_convolution
        monkeypatch.setattr(torch, '_nnpack_spatial_convolution', lambda *a: calls.append(1) or nnpack(*a))
        fast = net.set_fast(True)(ir, vis)
    if torch._nnpack_available():
        assert len(calls) == 9   # every 3x3 convolution with BN but the two with a 1-channel input
    # Both float32 paths are within float32 rounding of the float64 result (outputs in [0, 1]).
    assert (reference.double() - exact).abs().max() < 1e-6
    assert (fast.double() - exact).abs().max() < 1e-6


def test_nnpack_is_not_used_where_gradients_are_needed(monkeypatch):
    monkeypatch.setattr(torch, '_nnpack_spatial_convolution', lambda *a: pytest.fail('NNPACK with autograd'))
    net = build_network('dfecf').eval()
    out = net(_rand(1, 1, 8, 8, dtype=torch.float32), _rand(1, 1, 8, 8, seed=1, dtype=torch.float32))
    out.sum().backward()
    assert net.decoder[0][0].weight.grad is not None


def test_the_method_is_fast_by_default_and_switchable():
    method = create_method('dfecf')

    def flags():
        return {m.fast for m in method.modules() if isinstance(m, (ConvBNAct, TransformerBlock))}
    assert method.fast and flags() == {True}
    method.set_fast(False)
    assert not method.fast and flags() == {False}


# In a fresh process, so that nothing earlier tests left in the heap decides where a block comes from. The probe
# reads glibc's own count of mmapped bytes (mallinfo2) while a 48 MiB block is alive: page-fault counts, the effect
# that matters, depend on whether a freed chunk fits the next 64-byte-aligned request, which moves with the heap's
# layout (Python's hash seed), so they only show the saving on most runs.
HEAP_PROBE = """
from bench import runtime
runtime.tune()   # as `python -m bench` and the tests run: freed memory stays in the heap (trim threshold)
import ctypes, torch
from methods.dfecf.heap import large_blocks_on_heap

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks',
                                               'uordblks', 'fordblks', 'keepcost')]

mallinfo2 = ctypes.CDLL('libc.so.6').mallinfo2
mallinfo2.restype = MallInfo2

def mmapped_mib(mib):
    before = mallinfo2().hblkhd
    block = torch.empty(mib << 20, dtype=torch.uint8)
    return (mallinfo2().hblkhd - before) >> 20

print(mmapped_mib(48))
with large_blocks_on_heap():
    print(mmapped_mib(48))
print(mmapped_mib(192))
"""


def _has_mallinfo2() -> bool:
    try:
        return _mallopt() is not None and hasattr(ctypes.CDLL('libc.so.6'), 'mallinfo2')
    except OSError:
        return False


@pytest.mark.skipif(not _has_mallinfo2(), reason='glibc mallopt and mallinfo2 (glibc >= 2.33) not usable here')
def test_large_blocks_come_from_the_heap_inside_the_block_only():
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_') and k != 'GLIBC_TUNABLES'}
    out = subprocess.run([sys.executable, '-c', HEAP_PROBE], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    before, inside, after = map(int, out.stdout.split())
    assert before == 48       # glibc's default: a block above the mmap threshold (32 MiB at most) is mmapped
    assert inside == 0        # from the heap
    assert after == 192       # the default is back: a block larger than anything the heap holds is mmapped again
