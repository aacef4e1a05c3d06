"""The README's 10-epoch command, timed as a whole process, against Pythae's trainer on the same data and model.

aevb:   aevb train --dataset binarized-mnist --hidden 400 --latent-dim 20 --activation relu --optimizer adam
        --lr 1e-3 --batch-size 100 --epochs 10 --seed 0   (test ELBO every epoch, pictures, checkpoints: as shipped)
Pythae: pythae 0.1.2's VAE with a 784-400-20 ReLU MLP encoder and decoder (Bernoulli: reconstruction_loss="bce"),
        TrainingPipeline with BaseTrainerConfig(num_epochs=10, learning_rate=1e-3, batch size 100), the static
        binarized MNIST training set and its test set as eval data (evaluated every epoch, as aevb's test ELBO).

Pythae runs in its own environment (never an aevb dependency): make one with
    python -m venv /work/pythae-env && /work/pythae-env/bin/pip install torch==2.13.0 pythae==0.1.2
then
    AEVB_DATA_DIR=../shared/data python benchmarks/vs_pythae.py --pythae-python /work/pythae-env/bin/python
Both run ``--repeats`` times, interleaved; prints each wall time and Pythae/aevb of the medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

PYTHAE_SCRIPT = textwrap.dedent(
    """
    import sys, numpy as np, torch
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(784, 400), torch.nn.ReLU())
            self.mu, self.log_var = torch.nn.Linear(400, 20), torch.nn.Linear(400, 20)
        def forward(self, x):
            h = self.net(x.reshape(x.shape[0], -1))
            return ModelOutput(embedding=self.mu(h), log_covariance=self.log_var(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(20, 400), torch.nn.ReLU(), torch.nn.Linear(400, 784),
                                           torch.nn.Sigmoid())
        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).reshape(z.shape[0], 1, 28, 28))

    torch.manual_seed(0)
    train, test = np.load(sys.argv[1]), np.load(sys.argv[2])
    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=20, reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    trainer = BaseTrainerConfig(output_dir=sys.argv[3], num_epochs=10, learning_rate=1e-3,
                                per_device_train_batch_size=100, per_device_eval_batch_size=100,
                                steps_saving=None, seed=0, no_cuda=True)
    TrainingPipeline(training_config=trainer, model=model)(train_data=train, eval_data=test)
    """
)


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pythae-python", required=True, help="the python of an environment with pythae installed")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from aevb.data import load_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        np.save(root / "train.npy", load_dataset("binarized-mnist", "train").x.numpy())
        np.save(root / "test.npy", load_dataset("binarized-mnist", "test").x.numpy())
        (root / "pythae_vae.py").write_text(PYTHAE_SCRIPT)
        aevb = [sys.executable, "-m", "aevb", "train", "--dataset", "binarized-mnist", "--hidden", "400"]
        aevb += ["--latent-dim", "20", "--activation", "relu", "--optimizer", "adam", "--lr", "1e-3"]
        aevb += ["--batch-size", "100", "--epochs", "10", "--seed", "0", "--progress", "false", "--overwrite"]
        pythae = [args.pythae_python, str(root / "pythae_vae.py"), str(root / "train.npy"), str(root / "test.npy")]
        times: dict[str, list[float]] = {"aevb": [], "pythae": []}
        for i in range(args.repeats):  # interleaved: a change of load hits both alike
            times["aevb"].append(wall([*aevb, "--out", str(root / f"aevb{i}")]))
            times["pythae"].append(wall([*pythae, str(root / f"pythae{i}")]))
            print(f"repeat {i + 1}: aevb {times['aevb'][-1]:.1f} s, Pythae {times['pythae'][-1]:.1f} s", flush=True)
    a, p = statistics.median(times["aevb"]), statistics.median(times["pythae"])
    print(f"median: aevb {a:.1f} s, Pythae {p:.1f} s; Pythae / aevb = {p / a:.2f} (goal >= 1.5)")


if __name__ == "__main__":
    main()
