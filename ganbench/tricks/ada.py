from __future__ import annotations

import torch
from pydantic import Field, field_validator

from ganbench.data import data_kind
from ganbench.tricks.augment import AUGMENTS, augment_list
from ganbench.tricks.base import StepContext, TimeConstant, Trick, TrickParams, register


@register("ada")
class ADA(Trick):
    """Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative
    Adversarial Networks with Limited Data"): every image D sees (reals and fakes, D and G
    steps) goes through each augmentation of the pipeline with probability p, drawn per
    sample and per augmentation; p adapts to how sure D is of the reals.

    Settings from the authors' code (NVlabs/stylegan2-ada-pytorch): train.py sets
    `ada_target = 0.6` for `--aug=ada`; training/training_loop.py has `augment_p = 0`,
    `ada_interval = 4`, `ada_kimg = 500` and, every `ada_interval` minibatches,
    `adjust = sign(r_t - ada_target) * (batch_size * ada_interval) / (ada_kimg * 1000)`,
    p <- max(p + adjust, 0), with r_t the mean of training/loss.py's `Loss/signs/real`
    (sign of D's logits on the augmented reals of its D steps) over those minibatches. Here
    the interval counts D steps (each a minibatch of reals, as there). As there, p is not
    capped at 1: above 1 every augmentation is always applied, and p has that much further
    to come back down.

    A reduced pipeline: ADA's default 'bgc' is blit (x-flip, 90-degree rotations, integer
    translation), geometric (scale, rotation, anisotropy, fractional translation) and colour
    (brightness, contrast, luma flip, hue, saturation). This one has what augment.py has:
    x-flip and integer translation (up to 1/8 of the size) from blit, and brightness,
    saturation and contrast for colour; no rotations, no geometric group. `cutout` is
    available (ADA's 'bgcfnc' adds it) but not in the default.

    Logged per step as loss terms of zero gradient (constants: they add nothing to D's
    gradient): `train/d/ada_p`, p after the step's adjustment, and `train/d/ada_rt`, the
    mean sign of D's logits on the step's reals (r_t over the logging window)."""

    paper = "Karras et al. 2020, arXiv:2006.06676"
    # p is where the adaptation starts; the trick then moves it itself (its state).
    fixed_params = frozenset({"p"})
    short = "ada"
    order = 30  # with DiffAugment: after instance noise, before pack

    class Params(TrickParams):
        target: float = Field(0.6, ge=0, le=1, description="r_t above it raises p, below lowers")
        interval: int = Field(4, ge=1, description="D steps between adjustments of p")
        kimg: float = Field(500, gt=0, description="thousands of reals for p to move by 1")
        p: float = Field(0.0, ge=0, le=1, description="augmentation probability at the start")
        pipeline: str = Field("flip,translation,color",
                              description="augment.py's augmentations, each on its own coin")

        @field_validator("pipeline")
        @classmethod
        def _known(cls, v: str) -> str:
            return augment_list(v)

    def __init__(self, params=None, cfg=None) -> None:
        super().__init__(params, cfg)
        self.p = float(self.params.p)
        self._signs: torch.Tensor | float = 0.0  # sum of sign(D(real)) in this interval
        self._count = 0  # D's real logits in this interval
        self._steps = 0  # D steps in this interval

    def check(self, cfg):
        out = []
        if data_kind(cfg.dataset) != "images":
            out.append(self.conflict(f"ADA augments images; dataset {cfg.dataset!r} is 2-D "
                                     "points", "use an image dataset, or drop ada"))
        if "diffaugment" in cfg.tricks:
            out.append(self.conflict("ada and diffaugment both augment D's inputs (ADA's p "
                                     "would adapt on top of DiffAugment's fixed policy)",
                                     "use one of ada or diffaugment"))
        return out

    def time_constant(self, cfg) -> TimeConstant:
        # In D steps: at most as many training steps (n_critic takes several per step).
        steps = self.params.kimg * 1000 / cfg.batch_size
        return TimeConstant(steps, f"kimg {self.params.kimg:g} lets p move from 0 to 1 over "
                            f"~{steps:.0f} D steps of batch {cfg.batch_size}",
                            "a smaller kimg (the authors use 100 when fine-tuning) or more steps")

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.params.pipeline.split(","):
            # Each augmentation on its own per-sample coin, as the reference's pipe does.
            apply = torch.rand(x.shape[0], device=x.device) < self.p
            x = torch.where(apply.view(-1, *[1] * (x.dim() - 1)), AUGMENTS[name](x), x)
        return x

    def d_inputs(self, real, fake, step: int):
        if self.p == 0:  # the identity, and no random draws: the run is as without ada
            return real, fake
        aug = lambda x: None if x is None else self.augment(x)  # noqa: E731
        return aug(real), aug(fake)

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        signs = ctx.d_real.detach().sign()
        self._signs = self._signs + signs.sum()
        self._count += signs.numel()
        self._steps += 1
        if self._steps == self.params.interval:
            self._adjust()
        # Constants for the log (no gradient): the loop logs loss terms, on D's device.
        p = torch.tensor(self.p, dtype=ctx.d_real.dtype, device=ctx.d_real.device)
        return {"ada_p": p, "ada_rt": signs.mean()}

    def _adjust(self) -> None:
        # One host sync per interval (the reference reads its sign statistics back too).
        r_t = float(self._signs) / self._count
        batch = self.cfg.batch_size if self.cfg is not None else self._count / self._steps
        step = batch * self.params.interval / (self.params.kimg * 1000)
        sign = (r_t > self.params.target) - (r_t < self.params.target)
        self.p = max(self.p + sign * step, 0.0)  # the reference's clamp: at 0 only
        self._signs, self._count, self._steps = 0.0, 0, 0

    def state_dict(self) -> dict:
        return {"p": self.p, "signs": float(self._signs), "count": self._count,
                "steps": self._steps}

    def load_state_dict(self, state: dict) -> None:
        self.p = float(state["p"])
        self._signs, self._count = float(state["signs"]), int(state["count"])
        self._steps = int(state["steps"])
