"""PyTorch baseline for the training and encoding benchmarks (docs/models.md).

This module is written from the method's description (docs/models.md) and is the
baseline that someone using the PyTorch reference code would otherwise reach for. It is
plain PyTorch (no drl_jax
imports), so the benchmark scripts can time it in the same process as drl_jax's JAX
steps.

* `PaperVAE`: the paper's network, built module for module like the reference code's
  `EFFICIENTVAE` (n_filters=128, 64x64 input), so its `encoder`, `decoder`, `fc_mu`
  and `fc_var` state dicts have the reference checkpoints' keys and shapes.
  `save_reference_checkpoint` writes the reference's `<run>/checkpoint/model.pth`
  layout. Weights use PyTorch's default initialisers (the reference applies its own
  `init_weights`; that makes no difference to the timings).
* `DlibVAE`: disentanglement_lib's standard conv architecture, with the same tensor
  shapes as drl_jax's `DlibEncoder` / `DlibDecoder` (channel-first here).
* `ada_gvae_loss`, `make_optimizer`, `train_step`: the Ada-GVAE objective ("adaptive"
  aggregation, group average), Adam lr 1e-4, gradient-norm clip 1.0.
* `time_train`, `time_encode`: throughput in images per second.

All images are float32 NCHW [B, C, 64, 64] in [0, 1]; codes are [B, d].
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZE = 64
LATENT_DIM = 10
_SLOPE = 0.02  # LeakyReLU negative slope of the paper's networks.


class View(nn.Module):
    """x [B, ...] -> x.view(B, *shape); has no parameters (like the reference's View)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.size(0), *self.shape)


class NormalizeTanh(nn.Module):
    """(tanh(x) + 1) / 2, which equals sigmoid(2x): the paper decoder's output in [0, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(x) + 1.0) / 2.0


def _conv(cin: int, cout: int) -> nn.Sequential:
    """[B, cin, H, W] -> [B, cout, H/2, W/2]: conv 4x4 s2 (with bias), BatchNorm, LeakyReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=4, stride=2, padding=1),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(_SLOPE),
    )


def _deconv(cin: int, cout: int) -> nn.Sequential:
    """[B, cin, H, W] -> [B, cout, 2H, 2W]: transposed conv 4x4 stride 2, then LeakyReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1),
        nn.LeakyReLU(_SLOPE),
    )


class _GaussianEncoder(nn.Module):
    """`encoder` features and the `fc_mu`, `fc_var` heads both networks share."""

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images [B, C, 64, 64] in [0, 1] -> (mean [B, d], log-variance [B, d])."""
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_var(h)

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        """images [B, C, 64, 64] -> posterior mean [B, d] (the representation)."""
        return self.fc_mu(self.encoder(x))


class PaperVAE(_GaussianEncoder):
    """The paper's VAE, laid out like the reference's `EFFICIENTVAE` (n_filters=128).

    encoder: [B, C, 64, 64] -> conv 32 -> 64 -> 128 (each [B, c, H/2, W/2]) -> View
      [B, 8192] (C, H, W order) -> LayerNorm(8192); fc_mu, fc_var: [B, 8192] -> [B, d].
    decoder: [B, d] -> Linear 8192 + LeakyReLU -> View [B, 128, 8, 8] -> deconv 64, 32,
      C (each + LeakyReLU) -> (tanh + 1) / 2: [B, C, 64, 64] in [0, 1].

    State-dict keys (`model.encoder.state_dict()` etc.) match the reference checkpoints:
    encoder 0.0.weight, 0.0.bias, 0.1.{weight, bias, running_mean, running_var,
    num_batches_tracked}, the same for 1.* and 2.*, then 4.weight, 4.bias (LayerNorm);
    decoder 0.0.weight, 0.0.bias, 2.0.*, 3.0.*, 4.0.* (weight, bias); fc_mu and fc_var
    weight, bias.
    """

    def __init__(self, channels: int, latent_dim: int = LATENT_DIM):
        super().__init__()
        features = 128 * 8 * 8
        self.encoder = nn.Sequential(
            _conv(channels, 32),
            _conv(32, 64),
            _conv(64, 128),
            View([features]),
            nn.LayerNorm(features),
        )
        self.decoder = nn.Sequential(
            nn.Sequential(nn.Linear(latent_dim, features), nn.LeakyReLU(_SLOPE)),
            View((128, 8, 8)),
            _deconv(128, 64),
            _deconv(64, 32),
            _deconv(32, channels),
            NormalizeTanh(),
        )
        self.fc_mu = nn.Linear(features, latent_dim)
        self.fc_var = nn.Linear(features, latent_dim)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """codes [B, d] -> probabilities [B, C, 64, 64] in [0, 1] (the reference's output)."""
        return self.decoder(z)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """codes [B, d] -> Bernoulli logits [B, C, 64, 64]: 2a, as (tanh(a) + 1) / 2 = sigmoid(2a).

        Runs the decoder without its final NormalizeTanh, so the loss can use the stable
        BCE-with-logits instead of the BCE of clamped probabilities.
        """
        return 2.0 * self.decoder[:-1](z)


class DlibVAE(_GaussianEncoder):
    """disentanglement_lib's `conv_encoder` / `deconv_decoder` (channel-first).

    encoder: [B, C, 64, 64] -> conv 32 k4 [B, 32, 32, 32] -> conv 32 k4 [B, 32, 16, 16]
      -> conv 64 k2 [B, 64, 8, 8] -> conv 64 k2 [B, 64, 4, 4] (stride 2, ReLU each;
      TF 'SAME' padding, which is 1 on each side for k4 and 0 for k2 at these even
      sizes) -> flatten [B, 1024] -> dense 256 + ReLU; fc_mu, fc_var: [B, 256] -> [B, d].
    decoder: [B, d] -> dense 256 + ReLU -> dense 1024 + ReLU -> [B, 64, 4, 4] ->
      transposed conv k4 s2 64 [8x8], 32 [16x16], 32 [32x32] (ReLU each), C [64x64]:
      logits [B, C, 64, 64].
    """

    def __init__(self, channels: int, latent_dim: int = LATENT_DIM):
        super().__init__()
        layers = []
        cin = channels
        for cout, kernel, padding in ((32, 4, 1), (32, 4, 1), (64, 2, 0), (64, 2, 0)):
            layers += [nn.Conv2d(cin, cout, kernel, stride=2, padding=padding), nn.ReLU()]
            cin = cout
        self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 4 * 4, 256), nn.ReLU())
        self.fc_mu = nn.Linear(256, latent_dim)
        self.fc_var = nn.Linear(256, latent_dim)
        layers = [
            nn.Linear(latent_dim, 256),
            nn.ReLU(),
            nn.Linear(256, 1024),
            nn.ReLU(),
            View((64, 4, 4)),
        ]
        cin = 64
        for cout in (64, 32, 32):
            layers += [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.ReLU()]
            cin = cout
        layers.append(nn.ConvTranspose2d(cin, channels, 4, stride=2, padding=1))
        self.decoder = nn.Sequential(*layers)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """codes [B, d] -> logits [B, C, 64, 64]; image = sigmoid(logits)."""
        return self.decoder(z)

    decode_logits = decode


ARCHITECTURES = {"paper": PaperVAE, "dlib": DlibVAE}


def make_model(architecture: str, channels: int, latent_dim: int = LATENT_DIM) -> nn.Module:
    """`PaperVAE` ("paper") or `DlibVAE` ("dlib") for C=`channels` images, d=`latent_dim`."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {architecture!r}; valid: {', '.join(sorted(ARCHITECTURES))}."
        )
    return ARCHITECTURES[architecture](channels, latent_dim)


def save_reference_checkpoint(model: PaperVAE, optimizer: torch.optim.Optimizer, path) -> None:
    """Writes the reference code's `<run>/checkpoint/model.pth` format to `path`."""
    torch.save(
        {
            "encoder_state_dict": model.encoder.state_dict(),
            "decoder_state_dict": model.decoder.state_dict(),
            "fc_mu_state_dict": model.fc_mu.state_dict(),
            "fc_var_state_dict": model.fc_var.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
        },
        path,
    )


def _kl_between(mu1, logvar1, mu2, logvar2) -> torch.Tensor:
    """KL(N(mu1, exp(logvar1)) || N(mu2, exp(logvar2))) per dimension, nats: [P, d]."""
    return 0.5 * (
        torch.exp(logvar1 - logvar2)
        + (mu1 - mu2).square() * torch.exp(-logvar2)
        - 1.0
        - logvar1
        + logvar2
    )


def ada_gvae_loss(
    model: nn.Module,
    x1: torch.Tensor,
    x2: torch.Tensor,
    beta: float = 1.0,
    symmetric: bool = True,
) -> torch.Tensor:
    """Ada-GVAE's loss on P pairs ("adaptive" aggregation, group average), scalar nats.

    Args:
      model: a `PaperVAE` or `DlibVAE`.
      x1, x2: images [P, C, 64, 64] in [0, 1], the two members of each pair.
      beta: KL weight (constant: no warm-up here).
      symmetric: delta = 0.5 KL(q1||q2) + 0.5 KL(q2||q1) (as the reference code, whose
        version lacks the 0.5 inside each KL, which does not move the threshold); False:
        delta = KL(q1||q2), as docs/models.md#objectives and drl_jax's `WeakMethod` do.

    Per pair, dims with delta < (min + max) / 2 over its d dims are shared: both
    posteriors become (mean of the means, log of the mean of the variances). Then
    z ~ q by reparameterisation and loss = mean over pairs of 0.5 recon1 + 0.5 recon2
    + beta * mean over pairs of 0.5 KL1 + 0.5 KL2, with recon the binary cross-entropy
    summed over pixels (computed from logits: stable, no clamp) and KL to N(0, I)
    summed over d. x1 and x2 go through the encoder in one batch of 2P (as the
    reference code: BatchNorm sees both) and through the decoder in one batch.
    """
    images = torch.cat((x1, x2), dim=0)
    mu, logvar = model.encode(images)
    mu1, mu2 = torch.chunk(mu, 2, dim=0)
    logvar1, logvar2 = torch.chunk(logvar, 2, dim=0)
    delta = _kl_between(mu1, logvar1, mu2, logvar2)
    if symmetric:
        delta = 0.5 * delta + 0.5 * _kl_between(mu2, logvar2, mu1, logvar1)
    tau = 0.5 * (delta.amin(dim=1, keepdim=True) + delta.amax(dim=1, keepdim=True))
    shared = delta < tau
    mean_avg = 0.5 * (mu1 + mu2)
    logvar_avg = torch.log(0.5 * (logvar1.exp() + logvar2.exp()))
    mu = torch.cat((torch.where(shared, mean_avg, mu1), torch.where(shared, mean_avg, mu2)))
    logvar = torch.cat(
        (torch.where(shared, logvar_avg, logvar1), torch.where(shared, logvar_avg, logvar2))
    )
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    logits = model.decode_logits(z)
    # Mean over the 2P images = mean over pairs of 0.5 * (term1 + term2).
    reconstruction = F.binary_cross_entropy_with_logits(logits, images, reduction="sum")
    reconstruction = reconstruction / images.shape[0]
    kl = 0.5 * (mu.square() + logvar.exp() - logvar - 1.0)
    return reconstruction + beta * kl.sum(dim=1).mean()


def make_optimizer(model: nn.Module) -> torch.optim.Adam:
    """Adam, lr 1e-4 (PyTorch's default betas and eps, as the reference)."""
    return torch.optim.Adam(model.parameters(), lr=1e-4)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x1: torch.Tensor,
    x2: torch.Tensor,
    beta: float = 1.0,
) -> torch.Tensor:
    """One Ada-GVAE step: zero_grad, loss, backward, clip grad norm to 1.0, Adam step.

    Returns the loss before the step (a detached scalar tensor).
    """
    optimizer.zero_grad()
    loss = ada_gvae_loss(model, x1, x2, beta)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.detach()


def _timed(run, warmup: int, steps: int) -> float:
    """Seconds for `steps` calls of run() after `warmup` untimed ones."""
    for _ in range(warmup):
        run()
    start = time.perf_counter()
    for _ in range(steps):
        run()
    return time.perf_counter() - start


def _with_threads(threads: int | None, measure):
    """Runs measure() with torch's intra-op thread count set (then restored), seeded
    RNG state forked so the caller's global torch RNG is left untouched."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]):
            return measure(torch.get_num_threads())
    finally:
        torch.set_num_threads(previous)


def time_train(
    architecture: str,
    channels: int,
    batch_pairs: int = 64,
    threads: int | None = None,
    warmup: int = 3,
    steps: int = 10,
    seed: int = 0,
) -> dict:
    """Ada-GVAE training throughput on CPU (or whatever device torch defaults to).

    One fixed batch of `batch_pairs` pairs of uniform random images [P, C, 64, 64] is
    made once; the model is in training mode (BatchNorm uses batch statistics).

    Returns:
      {"images_per_s": 2 * batch_pairs * steps / seconds, "ms_per_step": float,
       "threads": torch's intra-op thread count during the measurement}.
    """

    def measure(num_threads):
        torch.manual_seed(seed)
        model = make_model(architecture, channels).train()
        optimizer = make_optimizer(model)
        x1 = torch.rand(batch_pairs, channels, IMAGE_SIZE, IMAGE_SIZE)
        x2 = torch.rand(batch_pairs, channels, IMAGE_SIZE, IMAGE_SIZE)
        seconds = _timed(lambda: train_step(model, optimizer, x1, x2), warmup, steps)
        return {
            "images_per_s": 2 * batch_pairs * steps / seconds,
            "ms_per_step": 1000.0 * seconds / steps,
            "threads": num_threads,
        }

    return _with_threads(threads, measure)


def time_encode(
    architecture: str,
    channels: int,
    batch: int = 500,
    threads: int | None = None,
    warmup: int = 2,
    steps: int = 5,
    seed: int = 0,
) -> dict:
    """Encoder throughput: posterior means [batch, d] of random images, eval mode, no grad.

    Returns:
      {"images_per_s": batch * steps / seconds, "ms_per_batch": float, "threads": int}.
    """

    def measure(num_threads):
        torch.manual_seed(seed)
        model = make_model(architecture, channels).eval()
        x = torch.rand(batch, channels, IMAGE_SIZE, IMAGE_SIZE)
        with torch.inference_mode():
            seconds = _timed(lambda: model.encode_mean(x), warmup, steps)
        return {
            "images_per_s": batch * steps / seconds,
            "ms_per_batch": 1000.0 * seconds / steps,
            "threads": num_threads,
        }

    return _with_threads(threads, measure)
