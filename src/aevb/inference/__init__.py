"""Posterior inference and marginal-likelihood estimation beyond the encoder: HMC, the App. D estimator, latent
statistics (active units, KL per dimension)."""
