"""Import a model trained by the reference code (PyTorch) as a drl_jax model folder.

  pip install 'drl_jax[torch]'
  python -m drl_jax.main --config=configs/import_torch.py \
      --config.input=RUN_DIR --config.workdir=W --config.dataset=dsprites \
      --config.beta=1.0 --config.seed=0

RUN_DIR is the reference run's folder (its checkpoint/model.pth; the paper architecture,
EFFICIENTVAE). Writes W/source/<dataset>/<method>_beta<beta>_seed<seed>/ (model.json and
an orbax checkpoint with the weights, BatchNorm statistics and Adam state), the folder the
train and transfer jobs use for that model: a transfer run with the same workdir, source
dataset, seeds and betas evaluates and fine-tunes it instead of training it (when its step
reaches train.steps), and the evaluate job reads it like any other. Takes seconds.
"""

import common
import ml_collections

PRESETS = {}


def get_config(arg=None):
    config = ml_collections.ConfigDict()
    config.job = "import_torch"
    config.input = ""  # the reference run's folder, or its checkpoint/model.pth
    config.workdir = ""  # the drl_jax workdir to write W/source/<dataset>/<model_id>/ into
    config.dataset = ""  # the dataset the model was trained on (a drl_jax dataset name)
    config.method = "ada_gvae"  # the objective it was trained with (docs/models.md#objectives)
    config.beta = 1.0
    config.warmup_steps = 50_000.0  # its beta warm-up (the paper's)
    config.seed = 0
    config.step = 400_000  # the state's step when the checkpoint's optimizer gives none
    return common.apply_preset(config, arg, PRESETS)
