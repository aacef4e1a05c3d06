"""The chunked IS-NLL evaluator: exact against closed forms, invariant to chunking; posterior reuse changes nothing."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn
from torch.distributions import Bernoulli, Independent, Normal

from aevb import ModelConfig, build_model
from aevb.estimators import Terms
from aevb.evaluation import chunk_pairs, log_likelihood
from aevb.likelihoods import BernoulliLogits


class LinearGaussian(nn.Module):
    """p(z) = N(0, I), p(x|z) = N(x; z, s² I) with d = 2: log p(x) = log N(x; 0, (1 + s²) I) in closed form.

    The encoder is q(z|x) = N(a x, c² I); with a = 1/(1+s²), c² = s²/(1+s²) it is the exact posterior, so every
    importance weight equals p(x) and the estimate is exact for any number of samples and any chunking.
    """

    event_shape = (2,)
    latent_dim = 2

    def __init__(self, s: float, a: float, c: float) -> None:
        super().__init__()
        self.s, self.a, self.c = s, a, c
        self.dummy = nn.Parameter(torch.zeros(()))
        self.encodes = 0

    def encode(self, x, context=None):
        self.encodes += 1
        return Independent(Normal(self.a * x, self.c * torch.ones_like(x)), 1)

    def terms(self, x, num_samples=1, context=None, posterior=None):
        q = self.encode(x) if posterior is None else posterior
        z = q.rsample((num_samples,))
        p_z = Independent(Normal(torch.zeros_like(z), torch.ones_like(z)), 1)
        log_lik = Independent(Normal(z, self.s * torch.ones_like(z)), 1).log_prob(x)
        return Terms(log_lik, p_z.log_prob(z), q.log_prob(z))

    def exact(self, x):
        return Independent(Normal(torch.zeros_like(x), math.sqrt(1 + self.s**2) * torch.ones_like(x)), 1).log_prob(x)


class _NoReuse(nn.Module):
    """Ignores the ``posterior`` the evaluator passes, so every chunk encodes its datapoints again."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.event_shape, self.decoder, self.config = model.event_shape, model.decoder, model.config
        self.sample, self.reconstruct = model.sample, model.reconstruct

    def encode(self, x, context=None):
        return self.model.encode(x, context)

    def terms(self, x, num_samples=1, context=None, posterior=None):
        return self.model.terms(x, num_samples, context)


def test_exact_posterior_gives_exact_log_likelihood_for_any_chunking():
    s = 0.7
    model = LinearGaussian(s, 1 / (1 + s**2), math.sqrt(s**2 / (1 + s**2)))
    x = torch.randn(13, 2) * 1.5
    for budget in (8, 4 * 2 * 20, 2**20):  # 1 pair per chunk, 20 pairs, everything in one chunk
        got = log_likelihood(model, x, num_samples=9, memory_budget=budget)
        torch.testing.assert_close(got, model.exact(x), atol=1e-5, rtol=0)


def _is_stderr(log_w: torch.Tensor) -> torch.Tensor:
    """Delta-method standard error of log mean(w) over K weights ``[K, B]``: std(w) / (mean(w) √K)."""
    w = (log_w - log_w.max(0).values).exp()
    return w.std(0) / (w.mean(0) * math.sqrt(log_w.shape[0]))


def test_inexact_posterior_converges_to_closed_form():
    torch.manual_seed(0)
    model = LinearGaussian(0.7, 0.4, 0.8)  # not the exact posterior: the weights vary
    x = torch.randn(20, 2)
    got = log_likelihood(model, x, num_samples=4000, memory_budget=4 * 2 * 300)
    se = _is_stderr(model.terms(x, 4000).log_weight)
    assert ((got - model.exact(x)).abs() < 5 * se + 1e-4).all()
    small = log_likelihood(model, x, num_samples=1)
    assert small.mean() < got.mean()  # the K = 1 ELBO lies below (Burda et al. 2015, Thm. 1)


def test_encoder_runs_once_per_datapoint_block():
    model = LinearGaussian(0.5, 0.5, 0.5)
    x = torch.randn(10, 2)
    log_likelihood(model, x, num_samples=100, memory_budget=4 * 2 * 40)  # 40 pairs: blocks of 10 points, 4 samples
    assert model.encodes == 1


def test_posterior_reuse_is_bitwise_identical_to_encoding_every_chunk():
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=3, hidden=[16]), (1, 5, 5)).eval()
    x = (torch.rand(12, 1, 5, 5) < 0.3).float()
    budget = 4 * 25 * 30  # 30 pairs: several sample chunks per block
    torch.manual_seed(1)
    a = log_likelihood(model, x, 64, memory_budget=budget)
    torch.manual_seed(1)
    b = log_likelihood(_NoReuse(model), x, 64, memory_budget=budget)
    assert torch.equal(a, b)
    assert chunk_pairs(model, budget) == 30


def test_vae_chunkings_agree_within_monte_carlo_error():
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=2, hidden=[16]), (1, 4, 4)).eval()
    x = (torch.rand(8, 1, 4, 4) < 0.3).float()
    big = log_likelihood(model, x, 3000)
    small = log_likelihood(model, x, 3000, memory_budget=4 * 16 * 7)
    se = _is_stderr(model.terms(x, 3000).log_weight)
    assert ((big - small).abs() < 5 * math.sqrt(2) * se).all()


@pytest.mark.parametrize("shape", [(3, 5, 7), (5, 7)])
def test_bernoulli_logits_log_prob_equals_torch(shape):
    torch.manual_seed(0)
    logits = (torch.randn(*shape) * 10).requires_grad_()
    x = torch.rand(5, 7)  # gray values too: the cross-entropy form
    ours = BernoulliLogits(logits=logits, validate_args=False).log_prob(x)
    ref = Bernoulli(logits=logits, validate_args=False).log_prob(x.expand_as(logits))
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-6)
    g1 = torch.autograd.grad(ours.sum(), logits)[0]
    g2 = torch.autograd.grad(ref.sum(), logits)[0]
    torch.testing.assert_close(g1, g2)


def test_bf16_autocast_keeps_densities_in_fp32_and_nll_close():
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=4, hidden=[64]), (1, 8, 8)).eval()
    x = (torch.rand(32, 1, 8, 8) < 0.3).float()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        terms = model.terms(x, 3)
        assert model.decoder.net(torch.zeros(1, 4)).dtype == torch.bfloat16  # the networks do run in bf16
        torch.manual_seed(1)
        low = log_likelihood(model, x, 500)
    assert {t.dtype for t in (terms.log_likelihood, terms.log_prior, terms.log_posterior, low)} == {torch.float32}
    torch.manual_seed(1)
    full = log_likelihood(model, x, 500)  # the same ε: z is drawn in fp32 from the fp32 posterior parameters
    assert (low - full).abs().mean() < 0.05
    assert not torch.equal(low, full)  # and bf16 did change the arithmetic


@pytest.mark.skipif(not shutil.which("c++"), reason="CPU torch.compile needs a C++ compiler")
@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(latent_dim=3, hidden=[16]),
        ModelConfig(latent_dim=3, hidden=[16], posterior="full"),
        ModelConfig(model="deep-vae", latent_dims=[4, 2], hidden=[16], upper_hidden=[8]),
    ],
    ids=["diagonal", "full", "deep"],
)
def test_compiled_chunks_equal_eager(config):
    """With inductor drawing ε from torch's generator (fallback_random), the compiled chunks give the eager numbers,
    including the shorter last chunk and block (a second, dynamic-shape graph)."""
    import torch._inductor.config as inductor_config

    torch.manual_seed(0)
    model = build_model(config, (1, 4, 4)).eval()
    x = (torch.rand(13, 1, 4, 4) < 0.4).float()
    budget = 4 * 2 * 16 * 5  # 5 pairs per chunk: blocks of 5 datapoints, 1 sample per chunk
    torch.manual_seed(1)
    eager = log_likelihood(model, x, 7, memory_budget=budget)
    torch.manual_seed(1)
    with inductor_config.patch(fallback_random=True):
        compiled = log_likelihood(model, x, 7, memory_budget=budget, compile=True)
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not shutil.which("c++"), reason="CPU torch.compile needs a C++ compiler")
def test_compiled_evaluation_memory_does_not_grow_with_k():
    """200 one-sample chunks of 8 MiB decoder outputs over 2674 points. Keeping every chunk's [B] result until the end
    (a list, as this evaluator once did) grew the peak by ~6 MB per chunk with compiled chunks (the allocator could
    not reuse the freed work buffers around them): 24 GB at K = 5000 over the test set. The running log-sum-exp keeps
    the peak flat."""
    code = """
import resource, torch
from aevb import ModelConfig, build_model
from aevb.evaluation import log_likelihood
torch.set_num_threads(1)
model = build_model(ModelConfig(latent_dim=4, hidden=[32]), (1, 28, 28)).eval()
x = (torch.rand(2674, 1, 28, 28) < 0.3).float()
log_likelihood(model, x, 3, compile=True)  # compile (and its memory) before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
log_likelihood(model, x, 200, compile=True)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    grown_mb = int(out.stdout.strip().splitlines()[-1])
    assert grown_mb < 200, f"peak memory grew by {grown_mb} MB over 200 chunks"


def test_evaluate_compiles_by_itself_only_when_the_work_pays_for_it(monkeypatch):
    """``compile=None`` (the default) compiles from AUTO_COMPILE_PAIRS (datapoints × K) on; explicit values win."""
    import aevb.inference.importance as importance
    from aevb.evaluation import evaluate

    calls = []

    def counting(*args, **kw):  # stands in for the compiled chunk: records that the compiled path ran
        calls.append(1)
        return importance._chunk_log_weights(*args, **kw)

    monkeypatch.setattr(importance, "_compiled_chunk", lambda: counting)
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=3, hidden=[16]), (1, 4, 4)).eval()
    x = (torch.rand(10, 1, 4, 4) < 0.4).float()
    monkeypatch.setattr(importance, "AUTO_COMPILE_PAIRS", 100)
    small = evaluate(model, x, nll_samples=9)  # 90 pairs: eager
    assert not small.compiled and small.compile_auto and not calls
    large = evaluate(model, x, nll_samples=10)  # 100 pairs: compiled
    assert large.compiled and large.compile_auto and calls
    calls.clear()
    forced = evaluate(model, x, nll_samples=9, compile=True)
    assert forced.compiled and not forced.compile_auto and calls
    assert not evaluate(model, x, nll_samples=10, compile=False).compiled


def test_a_compiler_failure_falls_back_to_eager_with_a_warning(monkeypatch):
    import aevb.inference.importance as importance

    def broken(*args, **kw):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(importance, "_compiled_chunk", lambda: broken)
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=3, hidden=[16]), (1, 4, 4)).eval()
    x = (torch.rand(6, 1, 4, 4) < 0.4).float()
    torch.manual_seed(1)
    eager = log_likelihood(model, x, 5)
    torch.manual_seed(1)
    with pytest.warns(UserWarning, match="torch.compile is unavailable here"):
        fallback = log_likelihood(model, x, 5, compile=True)
    torch.testing.assert_close(fallback, eager)


def test_out_of_memory_in_a_compiled_chunk_is_not_taken_for_a_compiler_failure(monkeypatch):
    """The same chunk run eager would not fit either: the error reaches the caller, with no "compile is unavailable"."""
    import aevb.inference.importance as importance

    def out_of_memory(*args, **kw):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(importance, "_compiled_chunk", lambda: out_of_memory)
    model = build_model(ModelConfig(latent_dim=3, hidden=[16]), (1, 4, 4)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback warning would fail here first
        with pytest.raises(torch.OutOfMemoryError):
            log_likelihood(model, torch.rand(6, 1, 4, 4), 5, compile=True)


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_a_sample_count_below_one_is_refused_by_name(k):
    from aevb import ConfigError

    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), (4,))
    with pytest.raises(ConfigError, match="num_samples"):
        log_likelihood(model, torch.rand(3, 4), num_samples=k)


def test_the_chunk_budget_follows_the_device():
    """The CPU keeps its cache-sized chunks; a GPU gets a sixteenth of its memory, within 64 MiB and 2 GiB."""
    from aevb.inference.importance import DEFAULT_MEMORY_BUDGET, memory_budget_for

    assert memory_budget_for(torch.device("cpu")) == DEFAULT_MEMORY_BUDGET
    cuda = torch.device("cuda")
    assert memory_budget_for(cuda, total_bytes=16 * 2**30) == 2**30
    assert memory_budget_for(cuda, total_bytes=140 * 2**30) == 2 * 2**30  # capped
    assert memory_budget_for(cuda, total_bytes=2**29) == 64 * 2**20  # floored
    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), (4,))
    x, noise = torch.rand(5, 4), torch.randn(30, 2)
    torch.testing.assert_close(
        log_likelihood(model, x, 30, noise=noise),
        log_likelihood(model, x, 30, noise=noise, memory_budget=DEFAULT_MEMORY_BUDGET),
    )
