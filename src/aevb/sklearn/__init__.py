"""aevb in scikit-learn's conventions: a VAE as an outlier detector and as a transformer.

Needs scikit-learn (``pip install 'aevb[sklearn]'``). PyOD users: ``aevb.pyod.AEVBDetector``.

Examples
--------
>>> from aevb.sklearn import VAEOutlierDetector, VAETransformer
>>> detector = VAEOutlierDetector(epochs=20, random_state=0).fit(X_train)        # doctest: +SKIP
>>> detector.score_samples(X_test)        # higher = more normal                  # doctest: +SKIP
>>> Pipeline([("vae", VAETransformer(latent_dim=8)), ("clf", LogisticRegression())])  # doctest: +SKIP
"""

from aevb.sklearn._base import VAEEstimatorBase
from aevb.sklearn.outlier import VAEOutlierDetector
from aevb.sklearn.transformer import VAETransformer

__all__ = ["VAEEstimatorBase", "VAEOutlierDetector", "VAETransformer"]
