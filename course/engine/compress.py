"""Making a trained model smaller: magnitude pruning and post-training quantization.

* :func:`magnitude_masks` — keep the largest-magnitude fraction of each weight matrix
  (Han et al. 2015); biases are always kept.
* :class:`Pruned` — a model with a fixed 0/1 mask on its weights, so that fine-tuning
  after pruning (through the ordinary engine) keeps the pruned weights at zero.
* :func:`quantize` — symmetric uniform quantization of the weights to ``bits`` bits,
  one scale per tensor or per output channel (Krishnamoorthi 2018), simulated in float:
  every weight is replaced by the value its integer code stands for.
* :func:`weight_bytes` — the storage a pruned or quantized model needs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine.checks import check_choice, check_float, check_int
from course.engine.models import weight_mask

Params = Any
SCALES = ("tensor", "channel")


def _weights(model: Any, params: Params) -> list[bool]:
    return jax.tree.leaves(weight_mask(model, params))


def magnitude_masks(model: Any, params: Params, keep: float) -> Params:
    """0/1 masks shaped like ``params``: the ``keep`` fraction of largest |w| per weight leaf.

    Each weight matrix keeps ``round(keep · size)`` entries (at least one), chosen by
    magnitude; ties at the threshold are broken by position.  Biases get all-ones masks.
    """
    keep = check_float("keep", keep, 0.0, 1.0, lo_open=True)
    leaves, tree = jax.tree.flatten(params)
    masks = []
    for leaf, is_weight in zip(leaves, _weights(model, params), strict=True):
        a = np.asarray(leaf)
        if not is_weight:
            masks.append(np.ones(a.shape, np.float32))
            continue
        k = max(1, round(keep * a.size))
        order = np.argsort(-np.abs(a).ravel(), kind="stable")  # largest first
        flat = np.zeros(a.size, np.float32)
        flat[order[:k]] = 1.0
        masks.append(flat.reshape(a.shape))
    return jax.tree.unflatten(tree, masks)


def apply_masks(params: Params, masks: Params) -> Params:
    """``params`` with every masked-out entry set to zero."""
    return jax.tree.map(lambda p, m: p * m, params, masks)


@dataclasses.dataclass(frozen=True)
class Pruned:
    """``model`` whose weights are multiplied by a fixed 0/1 mask that travels in the params.

    Parameters are ``{"net": <model's params>, "keep": [{"keep": mask}, ...]}`` with one
    mask per parameter leaf.  The mask enters the forward pass through
    ``stop_gradient``: its gradient is zero, so an optimizer without weight decay leaves
    it unchanged, and a pruned weight gets zero gradient too.  Fine-tuning a pruned
    model is then an ordinary engine run started from :meth:`pruned`.

    Attributes:
        model: the architecture being pruned.
    """

    model: Any

    @property
    def weight_names(self) -> tuple[str, ...]:
        """The wrapped model's weights (L1 and L2 penalise them)."""
        return self.model.weight_names

    @property
    def bias_names(self) -> tuple[str, ...]:
        """The wrapped model's biases, and the masks: neither is penalised."""
        return (*self.model.bias_names, "keep")

    @property
    def max_width(self) -> int | None:
        """The wrapped model's width knob."""
        return self.model.max_width

    @property
    def takes_dropout(self) -> bool:
        """Whether the wrapped model takes dropout."""
        return self.model.takes_dropout

    def init(self, *, key: jax.Array, width: Any = None) -> Params:
        """The wrapped model's initialisation with nothing pruned."""
        net = self.model.init(key=key, width=width)
        return self.pruned(net, jax.tree.map(jnp.ones_like, net))

    @staticmethod
    def pruned(net: Params, masks: Params) -> Params:
        """Parameters of this model: ``net`` (already masked) and its ``masks``."""
        keep = [{"keep": jnp.asarray(m, jnp.float32)} for m in jax.tree.leaves(masks)]
        return {"net": apply_masks(net, masks), "keep": keep}

    def effective(self, params: Params) -> Params:
        """The wrapped model's parameters with the masks applied (gradient-stopped)."""
        leaves, tree = jax.tree.flatten(params["net"])
        masks = [jax.lax.stop_gradient(k["keep"]) for k in params["keep"]]
        return jax.tree.unflatten(tree, [p * m for p, m in zip(leaves, masks, strict=True)])

    def apply(self, params: Params, x: jax.Array, **kwargs: Any) -> jax.Array:
        """The wrapped model's outputs with the pruned weights at zero."""
        return self.model.apply(self.effective(params), x, **kwargs)

    def n_params(self, width: Any = None) -> int:
        """Parameters of the wrapped model (pruned ones included)."""
        return self.model.n_params(width)


def quantize(model: Any, params: Params, bits: int, scale: str = "channel") -> Params:
    """Weights rounded to ``bits``-bit signed integer codes times a float scale.

    Symmetric and uniform: codes run over −(2^(bits−1) − 1) … 2^(bits−1) − 1 (2 bits:
    −1, 0, 1), and the scale maps the largest |w| to the largest code.  ``scale`` says
    whether one scale serves the whole tensor or each output channel (the last axis
    of a weight matrix) has its own.  Biases stay in float, as they do in integer-only
    inference (where they are 32-bit; Jacob et al. 2018).  Zeros stay zeros, so pruning
    survives.
    """
    bits = check_int("bits", bits, 2, 16)
    check_choice("scale", scale, SCALES)
    top = 2 ** (bits - 1) - 1
    leaves, tree = jax.tree.flatten(params)
    out = []
    for leaf, is_weight in zip(leaves, _weights(model, params), strict=True):
        w = np.asarray(leaf, np.float32)
        if not is_weight:
            out.append(w)
            continue
        axes = tuple(range(w.ndim - 1)) if scale == "channel" else None
        peak = np.max(np.abs(w), axis=axes, keepdims=scale == "channel")
        step = np.where(peak > 0, peak / top, 1.0)  # one float per tensor or channel
        out.append((np.clip(np.round(w / step), -top, top) * step).astype(np.float32))
    return jax.tree.unflatten(tree, out)


def weight_bytes(
    model: Any, params: Params, bits: int = 32, scale: str = "tensor", *, sparse: bool = False
) -> int:
    """Bytes to store the parameters: weights at ``bits`` bits, biases and scales at 32.

    With ``sparse``, only non-zero weights are stored, each with a 32-bit index: the
    cost of a simple sparse format (Han et al. 2016 compress the indices further).
    """
    bits = check_int("bits", bits, 2, 32)
    check_choice("scale", scale, SCALES)
    total_bits = 0
    for leaf, is_weight in zip(jax.tree.leaves(params), _weights(model, params), strict=True):
        a = np.asarray(leaf)
        if not is_weight:
            total_bits += 32 * a.size
            continue
        stored = int(np.count_nonzero(a)) if sparse else a.size
        total_bits += stored * (bits + (32 if sparse else 0))
        if bits < 32:
            total_bits += 32 * (a.shape[-1] if scale == "channel" else 1)
    return -(-total_bits // 8)
