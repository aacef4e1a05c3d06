"""Importance-sampled marginal likelihood log p(x), for any model with bound terms.

``log p(x) ≈ log (1/K) Σ_k p(x, z_k)/q(z_k|x)``, ``z_k ~ q(z|x)`` (Burda et al. 2015, eq. 11; Rezende et al. 2014) —
the IWAE bound with a large K, which tends to log p(x) as K → ∞. Evaluated over chunks of samples and datapoints so
memory stays bounded, combining chunks with ``logsumexp`` in fp32.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import torch
from torch.distributions import Distribution

from aevb.config import AUTO_COMPILE_PAIRS
from aevb.errors import ConfigError
from aevb.models.protocols import BoundModel, as_input
from aevb.posteriors import with_shared_noise
from aevb.runtime import to_device

DEFAULT_MEMORY_BUDGET = 8 * 2**20
"""Bytes one chunk's decoder output may take (8 MiB).

Small enough to stay in the last-level cache and below the allocator's mmap threshold, so the elementwise passes after
the GEMM hit cache and freed blocks are reused instead of being unmapped and page-faulted back in on every chunk (a
256 MiB budget spent ~40 % of the time in the kernel).
"""


def compile_pays(n: int, num_samples: int) -> bool:
    """Whether compiling the IS chunks pays for ``n`` datapoints at K = ``num_samples`` (see ``AUTO_COMPILE_PAIRS``).

    Parameters
    ----------
    n : int
        The number of datapoints.
    num_samples : int
        K, the importance samples per datapoint.

    Returns
    -------
    bool
        True when ``n × num_samples ≥ aevb.config.AUTO_COMPILE_PAIRS``.
    """
    return n * num_samples >= AUTO_COMPILE_PAIRS


def _floats_per_pair(model: BoundModel) -> int:
    """Floats of the largest activation one (sample, datapoint) pair makes: the decoder's output parameters.

    Returns
    -------
    int
        The likelihood family's parameters per value times the values of one datapoint (at least 1).
    """
    # A model built by hand without aevb's decoder: assume two parameters per dimension (a Gaussian's).
    n_params = getattr(getattr(getattr(model, "decoder", None), "family", None), "n_params", 2)
    return max(n_params * math.prod(model.event_shape), 1)


ACCELERATOR_BUDGET_FRACTION = 1 / 16
"""Share of an accelerator's memory one chunk's decoder output may take (``memory_budget_for``)."""
ACCELERATOR_BUDGET_RANGE = (64 * 2**20, 2 * 2**30)
"""The least and the most bytes a chunk's decoder output may take on an accelerator (64 MiB to 2 GiB)."""


def memory_budget_for(device: torch.device, total_bytes: int | None = None) -> int:
    """The chunk budget for ``device``: the CPU's cache-sized ``DEFAULT_MEMORY_BUDGET``, or a share of a GPU's memory.

    A GPU is fed best by large batched GEMMs across datapoints and samples: at 8 MiB a chunk of the 784-400-20 MLP is
    ~1,300 (sample, datapoint) pairs, a few microseconds of an H200's work against a kernel launch of similar length.
    There the budget is ``ACCELERATOR_BUDGET_FRACTION`` of the device's memory, within ``ACCELERATOR_BUDGET_RANGE``;
    the chunk's other tensors (hidden activations, the log-density) are of the same order, so a sixteenth leaves room.
    The total, not the free memory: free memory shrinks once the caching allocator holds the first batch's blocks, and
    a budget that changed between batches would change the chunk's shape, and recompile a compiled chunk.

    Parameters
    ----------
    device : torch.device
        Where the model runs.
    total_bytes : int or None, default None
        The device's memory; None asks CUDA (``torch.cuda.get_device_properties``). Given, it is used as is (tests).

    Returns
    -------
    int
        Bytes one chunk's decoder output may take.
    """
    if device.type != "cuda":
        return DEFAULT_MEMORY_BUDGET
    if total_bytes is None:
        total_bytes = torch.cuda.get_device_properties(device).total_memory
    low, high = ACCELERATOR_BUDGET_RANGE
    return int(min(high, max(low, total_bytes * ACCELERATOR_BUDGET_FRACTION)))


def chunk_pairs(model: BoundModel, budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """How many (sample, datapoint) pairs one decoder call takes: its output within ``budget`` bytes.

    Parameters
    ----------
    model : BoundModel
        The model; its decoder's likelihood family and ``event_shape`` give the output size of one pair (two
        parameters per value, a Gaussian's, for a model without aevb's decoder).
    budget : int, default DEFAULT_MEMORY_BUDGET
        Bytes the decoder's fp32 output may take (8 MiB).

    Returns
    -------
    int
        The number of pairs, at least 1.
    """
    return max(1, budget // (4 * _floats_per_pair(model)))


def sample_chunk(model: BoundModel, batch: int, num_samples: int, budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """How many posterior samples per chunk keep ``batch × chunk`` decoder outputs within ``budget`` bytes.

    Parameters
    ----------
    model : BoundModel
        The model (its decoder output size, as for ``chunk_pairs``).
    batch : int
        The datapoints of the batch, each decoded for every sample of the chunk.
    num_samples : int
        K, the samples wanted per datapoint: a chunk takes no more.
    budget : int, default DEFAULT_MEMORY_BUDGET
        Bytes the decoder's fp32 output may take (8 MiB).

    Returns
    -------
    int
        Samples per chunk, between 1 and ``num_samples``.
    """
    return max(1, min(num_samples, chunk_pairs(model, budget) // max(batch, 1)))


def _chunk_log_weights(
    model: BoundModel, x: torch.Tensor, samples: int, context: torch.Tensor | None, posterior: Distribution
) -> torch.Tensor:
    """``logsumexp_k log w_k`` over one chunk of ``samples`` proposals per datapoint, ``[B]``, in fp32.

    Returns
    -------
    torch.Tensor
        The chunk's log-sum-exp of the log weights, ``[B]``.
    """
    return torch.logsumexp(model.terms(x, samples, context, posterior).log_weight.float(), dim=0)


@functools.cache
def _compiled_chunk():
    """``_chunk_log_weights`` compiled once per process.

    Dynamo caches a graph per model and chunk shape (the last, shorter chunk of samples and block of datapoints get
    one more, with dynamic sizes).

    Returns
    -------
    Callable
        The compiled function.
    """
    return torch.compile(_chunk_log_weights)


@torch.no_grad()
def log_likelihood(
    model: BoundModel,
    x: torch.Tensor,
    num_samples: int = 5000,
    context: torch.Tensor | None = None,
    memory_budget: int | None = None,
    compile: bool = False,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Importance-sampled log p(x) per datapoint of ``x``, ``[B]``, with K = ``num_samples`` proposals from q.

    ``log p̂(x) = logsumexp_k(log w_k) − log K``. The (K × B) pairs are cut into chunks of about
    ``chunk_pairs`` pairs: each chunk is one ``model.terms`` call whose decoder runs one large GEMM over
    (samples × datapoints) flattened; ``q_φ(z|x)`` is computed once per block of datapoints and reused by all its
    chunks (``terms(..., posterior=q)``). Each chunk is reduced by ``logsumexp`` in fp32 and the
    chunk results are combined by a running ``logaddexp``, so the estimate is the same in distribution for any
    chunking and memory does not grow with K.

    ``compile = True`` runs each chunk through ``torch.compile``: the decoder's bias, the likelihood's log-density
    and its sum over pixels become one pass over the chunk after the GEMM, instead of three or four (1.3-1.5x faster
    for the 784-400-20 MLP on one CPU thread). It costs a compilation of some seconds per model and chunk shape, so it
    pays for large evaluations (K in the thousands over a test set), not small ones. The compiled chunk draws its
    ε with inductor's generator: the same distribution and seed-determined, not the same numbers as eager. Where
    compilation fails, it warns and runs eagerly.

    Runs without gradients.

    Parameters
    ----------
    model : BoundModel
        A model with bound terms (``encode``, ``terms``).
    x : torch.Tensor
        Data, ``[B, *event_shape]`` (a tensor or array of numbers, converted to the model's dtype and device).
    num_samples : int, default 5000
        K, the proposals ``z_k ~ q_φ(z|x)`` per datapoint.
    context : torch.Tensor or None, default None
        The contexts of a conditional model (e.g. one-hot labels), one row per datapoint.
    memory_budget : int or None, default None
        Bytes one chunk's decoder output may take; it sets the chunk size (``chunk_pairs``). None: the device's
        (``memory_budget_for``: 8 MiB on the CPU, a sixteenth of a GPU's memory).
    compile : bool, default False
        Run each chunk through ``torch.compile`` (see above).
    noise : torch.Tensor or None, default None
        Standard-normal ε ``[num_samples, latent_dim]`` that every datapoint uses (common random numbers,
        ``aevb.posteriors.with_shared_noise``), so a datapoint's estimate does not depend on the others in ``x``;
        None draws fresh ε from the global RNG.

    Returns
    -------
    torch.Tensor
        ``log p̂(x)`` of each datapoint, ``[B]``, in nats (higher is better).

    Raises
    ------
    ConfigError
        If ``num_samples`` is not a positive integer.
    torch.OutOfMemoryError
        If a chunk does not fit the device (also from a compiled chunk: that is no compiler failure to fall back from).
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or num_samples < 1:
        raise ConfigError(
            f"num_samples (K, importance samples per datapoint) must be an integer ≥ 1, got {num_samples!r}"
        )
    x = as_input(model, x)
    context = to_device(context, x.device)  # on the model's device before any chunk: a compiled one never moves data
    if memory_budget is None:
        memory_budget = memory_budget_for(x.device)
    pairs = chunk_pairs(model, memory_budget)
    block = max(1, min(x.shape[0], pairs))  # datapoints per block: at least one sample of each fits a chunk
    run_chunk = _compiled_chunk() if compile else _chunk_log_weights
    out = []
    for start in range(0, x.shape[0], block):
        xb = x[start : start + block]
        cb = None if context is None else context[start : start + block]
        posterior = model.encode(xb, cb)  # q_φ(z|x) once per block, shared by all its chunks
        if noise is not None:  # every block starts at the first of the K shared draws
            posterior = with_shared_noise(posterior, noise)
        chunk = sample_chunk(model, xb.shape[0], num_samples, memory_budget)
        # A running log-sum-exp, so nothing of a chunk outlives the next one: a list of the chunks' small [B] results
        # keeps the allocator from reusing the freed work buffers between them, and memory then grows with K
        # (benchmarks/README.md has the measurement).
        total = None
        for done in range(0, num_samples, chunk):
            k = min(chunk, num_samples - done)
            try:
                part = run_chunk(model, xb, k, cb, posterior)
            except torch.OutOfMemoryError:  # not the compiler's failure: the same chunk eager would not fit either
                raise
            except Exception as err:  # noqa: BLE001 - a compiler failure (no C++ compiler, ...): eager is the same
                if run_chunk is _chunk_log_weights:
                    raise
                warnings.warn(f"torch.compile is unavailable here ({type(err).__name__}); running eager", stacklevel=2)
                run_chunk = _chunk_log_weights
                part = run_chunk(model, xb, k, cb, posterior)
            total = part if total is None else torch.logaddexp(total, part)
        out.append(total - math.log(num_samples))
    return torch.cat(out)
