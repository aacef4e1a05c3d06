"""The variational auto-encoder: a prior × a posterior (encoder) × a likelihood (decoder).

Generative model ``p_θ(x, z) = p(z) p_θ(x|z)``; recognition model ``q_φ(z|x)`` (Kingma & Welling 2014, §2–3). The
objectives in ``aevb.estimators`` read the log densities this module computes (``VAE.terms``); the model itself holds
no loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from aevb.config import ModelConfig
from aevb.estimators import Terms, elbo
from aevb.likelihoods import Decoder
from aevb.models.archs import ARCHS
from aevb.models.protocols import BoundModel, as_input
from aevb.nets import Standardization, StandardizedNet, initialize_
from aevb.posteriors import Encoder
from aevb.priors import StandardNormalPrior
from aevb.registry import LIKELIHOODS, MODELS, POSTERIORS
from aevb.runtime import module_device, to_device


class VAE(nn.Module, BoundModel):
    """A one-stochastic-layer VAE composed of ``prior``, ``encoder`` (→ ``q_φ(z|x)``) and ``decoder`` (→ ``p_θ(x|z)``).

    ``context`` (labels, for conditional models) is passed to all three; unconditional parts ignore it. Tensor
    inputs of the public methods may be on any device: they are moved to the model's (``aevb.runtime``).

    Parameters
    ----------
    encoder : Encoder
        x (and an optional context c) → ``q_φ(z|x)``: a network followed by a posterior family.
    decoder : Decoder
        z (and an optional context c) → ``p_θ(x|z)``: a network followed by a likelihood family.
    prior : torch.nn.Module
        context (or None) → p(z), e.g. ``StandardNormalPrior`` (p(z) = N(z; 0, I)); its ``latent_dim`` is the
        model's.
    event_shape : Sequence of int
        The shape of one datapoint x.
    config : ModelConfig or None, default None
        The config the model was built from (``save_model`` writes it to ``model.json``); None for a model built by
        hand, which no config describes.
    """

    # A variational model: q_φ(z|x) is a density, so the ELBO and importance-sampled log p(x) are defined. The plain
    # autoencoder (aevb.models.ae) shares this class with a point-mass q and sets it to False.
    variational = True

    def __init__(
        self,
        encoder: Encoder,
        decoder: Decoder,
        prior: nn.Module,
        event_shape: Sequence[int],
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.prior = prior
        self.event_shape = tuple(event_shape)
        self.config = config

    # --- the three distributions -------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        """The approximate posterior ``q_φ(z|x)`` (its ``.mean`` and ``.rsample()`` are both explicit).

        Parameters
        ----------
        x : torch.Tensor
            Data, ``[B, *event_shape]``.
        context : torch.Tensor or None, default None
            The context c of a conditional model (e.g. one-hot labels); unconditional encoders ignore it.

        Returns
        -------
        torch.distributions.Distribution
            ``q_φ(z|x)``, one batch entry per datapoint, over z of ``latent_dim`` values.
        """
        device = module_device(self)
        return self.encoder(to_device(x, device), to_device(context, device))

    def decode(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        """The likelihood ``p_θ(x|z)``: the decoder's distribution of x given latent codes z.

        Parameters
        ----------
        z : torch.Tensor
            Latent codes, ``[..., latent_dim]`` (e.g. ``[B, latent_dim]``, or ``[S, B, latent_dim]`` for S samples
            per datapoint).
        context : torch.Tensor or None, default None
            The context c of a conditional model (e.g. one-hot labels); unconditional decoders ignore it.

        Returns
        -------
        torch.distributions.Distribution
            ``p_θ(x|z)``, one batch entry per code, over x of ``event_shape``.
        """
        device = module_device(self)
        return self.decoder(to_device(z, device), to_device(context, device))

    def prior_distribution(self, context: torch.Tensor | None = None) -> Distribution:
        """The prior p(z) (or p(z|c) for conditional priors).

        Parameters
        ----------
        context : torch.Tensor or None, default None
            The context c of a conditional prior (e.g. one-hot labels); an unconditional prior ignores it.

        Returns
        -------
        torch.distributions.Distribution
            p(z) (or p(z|c)), over z of ``latent_dim`` values.
        """
        return self.prior(to_device(context, module_device(self)))

    @property
    def latent_dim(self) -> int:
        """The width of the latent code z (the prior's ``latent_dim``; the paper's Nz)."""
        return self.prior.latent_dim

    @property
    def data_dim(self) -> int:
        """The number of values in one datapoint, the product of ``event_shape``."""
        return math.prod(self.event_shape)

    # --- bounds ----------------------------------------------------------------------------------------------
    def terms(
        self,
        x: torch.Tensor,
        num_samples: int = 1,
        context: torch.Tensor | None = None,
        posterior: Distribution | None = None,
    ) -> Terms:
        """Draw ``z_s ~ q_φ(z|x)``, s = 1..S, by reparameterization and return their log densities ``[S, B]``.

        The draws are ``z_s = g_φ(ε_s, x)`` (``z = μ + σ ⊙ ε`` for a diagonal Gaussian), so the terms are
        differentiable in φ. Every estimator of ``aevb.estimators`` is a function of the returned terms.

        Parameters
        ----------
        x : torch.Tensor
            Data, ``[B, *event_shape]``.
        num_samples : int, default 1
            S, the posterior samples per datapoint (the paper's L).
        context : torch.Tensor or None, default None
            The context c of a conditional model (e.g. one-hot labels); unconditional parts ignore it.
        posterior : torch.distributions.Distribution or None, default None
            ``q_φ(z|x)`` already computed for this ``x`` (the IS evaluator encodes once and draws many chunks of
            samples from it); None encodes ``x``.

        Returns
        -------
        Terms
            ``log p_θ(x|z_s)``, ``log p(z_s)`` and ``log q_φ(z_s|x)``, each ``[S, B]`` (the last two computed when
            first read), with the posterior and prior for estimator B's analytic KL.
        """
        device = module_device(self)  # once: the parts below get tensors already there (the training step's path)
        x, context = to_device(x, device), to_device(context, device)
        q = self.encoder(x, context) if posterior is None else posterior
        p_z = self.prior_distribution(context)
        if num_samples == 1:  # the usual training step: the same draws, decoded without a leading sample dim
            z = q.rsample()  # z = μ + σ ⊙ ε
            log_px_z = self.decoder(z, context).log_prob(x).unsqueeze(0)
            return Terms.of_samples(log_px_z, z.unsqueeze(0), q, p_z)
        z = q.rsample((num_samples,))
        log_px_z = self.decoder(z, context).log_prob(x)
        return Terms.of_samples(log_px_z, z, q, p_z)

    def elbo(
        self, x: torch.Tensor, num_samples: int = 1, estimator: str = "B", context: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The ELBO per datapoint in nats, ``[B]`` (estimator B by default: analytic KL).

        ``L(θ, φ; x) = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))`` (Kingma & Welling 2014, eq. 3), estimated by
        ``aevb.estimators.elbo``. An ``x`` that is not ``[B, *event_shape]`` numbers is a ``DataError``.

        Parameters
        ----------
        x : torch.Tensor or numpy.ndarray
            A tensor or NumPy array of any float dtype, ``[B, *event_shape]`` (converted to the model's dtype and
            device).
        num_samples : int, default 1
            L, the posterior samples per datapoint.
        estimator : {"B", "A"}, default "B"
            SGVB estimator: ``"B"`` (eq. 7, analytic KL) or ``"A"`` (eq. 6, Monte Carlo KL).
        context : torch.Tensor or None, default None
            The context c of a conditional model (e.g. one-hot labels); unconditional parts ignore it.

        Returns
        -------
        torch.Tensor
            The ELBO of each datapoint, ``[B]``, in nats (a lower bound on log p(x); higher is better).
        """
        return elbo(self.terms(as_input(self, x), num_samples, context), estimator)

    # --- generation -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor | None = None, mean: bool = True) -> torch.Tensor:
        """Draws z ~ p(z), decoded: the decoder's mean (``mean=True``, what is usually shown) or a sample of x.

        Runs without gradients.

        Parameters
        ----------
        n : int
            How many draws from an unconditional prior. With a ``context``, the conditional prior already has one
            batch entry per context row and draws one z per row; ``n`` is then not used.
        context : torch.Tensor or None, default None
            The context c of a conditional model (e.g. one-hot labels), one row per draw; None for an unconditional
            model.
        mean : bool, default True
            Return the decoder's mean E[x|z]; False: a sample x ~ ``p_θ(x|z)``.

        Returns
        -------
        torch.Tensor
            The decoded draws, ``[n, *event_shape]`` (one per context row with a ``context``).
        """
        context = to_device(context, module_device(self))
        p_z = self.prior_distribution(context)
        # A conditional prior already has one batch entry per context row; an unconditional one needs n draws (also
        # when a context is passed to a model whose prior ignores it).
        z = p_z.sample() if context is not None and p_z.batch_shape != torch.Size() else p_z.sample((n,))
        p_x = self.decode(z, context)
        return p_x.mean if mean else p_x.sample()

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder mean at the posterior mean: ``E_p(x|z=μ_φ(x))[x]``.

        Runs without gradients.

        Parameters
        ----------
        x : torch.Tensor
            Data, ``[B, *event_shape]``.
        context : torch.Tensor or None, default None
            The context c of a conditional model (e.g. one-hot labels); unconditional parts ignore it.

        Returns
        -------
        torch.Tensor
            The reconstructions, ``[B, *event_shape]``.
        """
        return self.decode(self.encode(x, context).mean, context).mean


def build_vae_parts(config: ModelConfig, event_shape: Sequence[int], context_dim: int = 0) -> tuple[Encoder, Decoder]:
    """Encoder and decoder for ``config``: networks from the arch registry, families from the family registries.

    Parameters
    ----------
    config : ModelConfig
        Reads ``arch``, ``posterior``, ``likelihood``, ``latent_dim``, ``hidden`` and ``activation`` (and what the
        likelihood family reads: ``squash_mean``, ``min_variance``, ``standardize``; with ``standardize`` the encoder
        network reads standardized inputs too, ``aevb.nets.StandardizedNet``).
    event_shape : Sequence of int
        The shape of one datapoint x.
    context_dim : int, default 0
        The width of a context c that both networks read besides their input (a conditional model's one-hot
        labels: the number of classes); 0 for an unconditional model.

    Returns
    -------
    encoder : Encoder
        The ``ARCHS[config.arch]`` encoder network followed by the ``POSTERIORS[config.posterior]`` family.
    decoder : Decoder
        The ``ARCHS[config.arch]`` decoder network followed by the ``LIKELIHOODS[config.likelihood]`` family.
    """
    arch = ARCHS.get(config.arch)
    posterior = POSTERIORS.get(config.posterior)(config.latent_dim)
    likelihood = LIKELIHOODS.get(config.likelihood).from_config(config, event_shape)
    enc_net = arch.encoder_net(
        event_shape, posterior.n_params(config.latent_dim), config.hidden, config.activation, context_dim
    )
    dec_net = arch.decoder_net(
        config.latent_dim,
        likelihood.n_params * math.prod(event_shape),
        config.hidden,
        config.activation,
        context_dim,
        event_shape=tuple(event_shape),
    )
    standardization = getattr(likelihood, "standardization", None)
    if standardization is not None:  # the encoder reads the features as the likelihood models them
        enc_net = StandardizedNet(enc_net, Standardization(event_shape))
    return Encoder(enc_net, posterior), Decoder(dec_net, likelihood)


@MODELS.register("vae")
def build_vae(config: ModelConfig, event_shape: Sequence[int]) -> VAE:
    """The plain VAE of ``config`` (model ``"vae"``) with the prior p(z) = N(z; 0, I), its weights initialized.

    The parts come from ``build_vae_parts``. The initialization draws every parameter from ``N(0, init_std²)`` when
    ``config.init_std`` > 0, and follows ``config.init`` otherwise.

    Parameters
    ----------
    config : ModelConfig
        What to build.
    event_shape : Sequence of int
        The shape of one datapoint x.

    Returns
    -------
    VAE
        The new, untrained model.
    """
    encoder, decoder = build_vae_parts(config, event_shape)
    model = VAE(encoder, decoder, StandardNormalPrior(config.latent_dim), event_shape, config)
    return initialize_(model, config.init, config.init_std)
