"""Kernel support vector machines, solved in the dual by SMO.

The soft-margin SVM with labels s = ±1 and a kernel K minimises, in the primal,
½‖w‖² + C Σᵢ max(0, 1 − sᵢ f(xᵢ)); its Lagrange dual is a quadratic programme over
one coefficient per training example.  We write it (as Bottou and Lin 2007 do) with
*signed* coefficients aᵢ = sᵢαᵢ:

    maximise  Σᵢ aᵢsᵢ − ½ Σᵢⱼ aᵢaⱼK(xᵢ, xⱼ)   subject to  Σᵢ aᵢ = 0,  Aᵢ ≤ aᵢ ≤ Bᵢ,

with the box [0, C] for sᵢ = +1 and [−C, 0] for sᵢ = −1.  The decision function is
f(x) = Σᵢ aᵢK(xᵢ, x) + b; the support vectors are the examples with aᵢ ≠ 0.

:func:`fit` solves it by sequential minimal optimisation (Platt 1998): each step
moves two coefficients, the only smallest move that keeps Σaᵢ = 0, and solves that
two-variable problem exactly.  The pair is chosen as LIBSVM chooses it (the
"second-order" working-set selection of Fan, Chen and Lin 2005), and the solver stops
with LIBSVM's test: the largest violation of the optimality conditions,
max{gᵢ : aᵢ < Bᵢ} − min{gⱼ : aⱼ > Aⱼ} with gᵢ = sᵢ − Σⱼ aⱼK(xᵢ, xⱼ), is below ``tol``.
So scikit-learn's ``SVC`` (which runs LIBSVM) and :func:`fit` solve the same
problem to the same tolerance, and their solutions can be compared point by point.

The kernel matrix is never stored: each step computes the two kernel rows it needs,
so memory grows like n, and time like (steps × n).  The whole solve is one
``lax.while_loop``; padded examples get the box [0, 0] and never move, so problems of
different sizes share one compiled program.  :func:`fit_many` solves a batch of problems
one after another rather than vmapped: a vmapped while-loop runs every problem for as many
steps as the slowest needs, and on a CPU a step of a batch of 24 costs ten times a single
step — a loop of single solves was several times faster on chapter 06's grid.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from course.engine.checks import check_array, check_choice, check_float, check_int

KERNELS = ("linear", "poly", "rbf")
DEGREE = 3  # the polynomial kernel (γ x·x′ + COEF0)^DEGREE
COEF0 = 1.0
CURVATURE_FLOOR = 1e-12  # LIBSVM's τ: the smallest curvature a pair step divides by


def kernel(kind: Any, xa: jax.Array, xb: jax.Array, gamma: Any) -> jax.Array:
    """The kernel matrix K(xa, xb): (len(xa), len(xb)).

    ``kind`` is a name from :data:`KERNELS` or its index (an int, possibly traced, so one
    compiled decision function serves every kernel).  linear: x·x′; poly: (γ x·x′ + 1)³;
    rbf: exp(−γ‖x − x′‖²) — scikit-learn's definitions with ``coef0=1``, ``degree=3``.
    """
    index = KERNELS.index(kind) if isinstance(kind, str) else kind
    dot = xa @ xb.T  # (na, nb)
    sq = jnp.sum(xa * xa, -1)[:, None] + jnp.sum(xb * xb, -1)[None, :] - 2.0 * dot
    branches = [dot, (gamma * dot + COEF0) ** DEGREE, jnp.exp(-gamma * jnp.maximum(sq, 0.0))]
    if isinstance(index, int):
        return branches[index]
    return jnp.select([index == 0, index == 1], branches[:2], branches[2])


@dataclasses.dataclass(frozen=True)
class SVM:
    """A solved kernel SVM (one problem, or a batch of them with a leading axis).

    Attributes:
        x: training inputs (n, d) (padded rows have coef 0).
        coef: signed dual coefficients aᵢ = sᵢαᵢ (n,); support vectors have aᵢ ≠ 0.
        b: the intercept.
        kind: kernel index into :data:`KERNELS`.
        gamma: kernel width γ (unused by the linear kernel).
        C: the box bound.
        gap: the optimality violation when the solver stopped (≤ tol when converged).
        steps: SMO steps taken.
    """

    x: Any
    coef: Any
    b: Any
    kind: Any
    gamma: Any
    C: Any
    gap: Any
    steps: Any

    @property
    def converged(self) -> Any:
        """Whether the solve met its tolerance (array for a batch)."""
        return np.asarray(self.gap) <= np.asarray(self.tol)

    tol: Any = 1e-3

    def support(self, C_relative: float = 1e-6) -> np.ndarray:
        """Boolean mask of the support vectors (|aᵢ| above a tiny fraction of C)."""
        return np.abs(np.asarray(self.coef)) > C_relative * np.asarray(self.C)[..., None]

    def decision(self, x: Any, *, chunk: int = 4096) -> np.ndarray:
        """f(x) = Σᵢ aᵢK(xᵢ, x) + b for inputs (m, d): (m,).

        For a batch: inputs (m, d) shared by every problem, or (batch, m, d) with each
        problem's own inputs; either gives (batch, m).
        """
        x = jnp.asarray(x, jnp.float32)
        batched = np.ndim(self.coef) == 2
        fn = _decision
        if batched:
            fn = _decision_each if x.ndim == 3 else _decision_batch
        parts = [
            fn(self.x, self.coef, self.b, self.kind, self.gamma, x[..., start : start + chunk, :])
            for start in range(0, x.shape[-2], chunk)
        ]
        return np.concatenate([np.asarray(p) for p in parts], axis=-1)

    def weights(self) -> np.ndarray:
        """The primal weights w = Σᵢ aᵢxᵢ weights (for the linear kernel): (d,)."""
        return np.einsum("...n,...nd->...d", np.asarray(self.coef), np.asarray(self.x))


@jax.jit
def _decision(x, coef, b, kind, gamma, xs):
    return kernel(kind, xs, x, gamma) @ coef + b  # (m,)


_decision_batch = jax.jit(jax.vmap(_decision.__wrapped__, in_axes=(0, 0, 0, 0, 0, None)))
_decision_each = jax.jit(jax.vmap(_decision.__wrapped__))  # each problem its own inputs


def _diagonal(kind, x, gamma):
    """K(xᵢ, xᵢ) for every row: (n,)."""
    norm = jnp.sum(x * x, -1)
    branches = [norm, (gamma * norm + COEF0) ** DEGREE, jnp.ones_like(norm)]
    if isinstance(kind, int):
        return branches[kind]
    return jnp.select([kind == 0, kind == 1], branches[:2], branches[2])


def _smo(x, s, valid, C, kind, gamma, tol, max_steps):
    """One SMO solve: signed coefficients, intercept, final gap and steps taken."""
    n = x.shape[0]
    lo = jnp.where(valid & (s < 0), -C, 0.0)  # (n,) the box Aᵢ ≤ aᵢ ≤ Bᵢ
    hi = jnp.where(valid & (s > 0), C, 0.0)
    diag = _diagonal(kind, x, gamma)  # (n,)

    def violation(a, g):
        up = jnp.where(a < hi, g, -jnp.inf)
        down = jnp.where(a > lo, g, jnp.inf)
        return up, down

    def cond(state):
        a, g, step = state
        up, down = violation(a, g)
        return (jnp.max(up) - jnp.min(down) > tol) & (step < max_steps)

    def body(state):
        a, g, step = state
        up, down = violation(a, g)
        i = jnp.argmax(up)
        k_i = kernel(kind, x[i][None], x, gamma)[0]  # (n,) one kernel row
        curvature = jnp.maximum(diag[i] + diag - 2.0 * k_i, CURVATURE_FLOOR)  # (n,)
        rise = g[i] - down  # > 0 for the candidates j
        gain = jnp.where(rise > 0, rise * rise / curvature, -jnp.inf)
        j = jnp.argmax(gain)
        k_j = kernel(kind, x[j][None], x, gamma)[0]
        room_i, room_j = hi[i] - a[i], a[j] - lo[j]
        newton = (g[i] - g[j]) / curvature[j]
        step_size = jnp.minimum(jnp.minimum(room_i, room_j), newton)
        # land exactly on a bound when the bound is what stopped the step
        a_i = jnp.where(step_size >= room_i, hi[i], a[i] + step_size)
        a_j = jnp.where(step_size >= room_j, lo[j], a[j] - step_size)
        a = a.at[i].set(a_i).at[j].set(a_j)
        g = g - step_size * (k_i - k_j)
        return a, g, step + 1

    a0 = jnp.zeros(n, x.dtype)
    g0 = jnp.where(valid, s, 0.0).astype(x.dtype)
    a, g, steps = jax.lax.while_loop(cond, body, (a0, g0, jnp.int32(0)))
    up, down = violation(a, g)
    gap = jnp.max(up) - jnp.min(down)
    free = (a > lo) & (a < hi)
    n_free = jnp.sum(free)
    b = jnp.where(
        n_free > 0,
        jnp.sum(jnp.where(free, g, 0.0)) / jnp.maximum(n_free, 1),
        0.5 * (jnp.max(up) + jnp.min(down)),
    )
    return a, b, gap, steps


# The kernel is a static argument: only that kernel is compiled in.
_smo_one = jax.jit(_smo, static_argnums=4)


def _labels(y: Any, name: str = "y") -> np.ndarray:
    y = np.asarray(check_array(name, y, ndim=1))
    values = set(np.unique(y).tolist())
    if not values <= {0, 1} and not values <= {-1, 1}:
        raise ValueError(
            f"{name} must hold two classes as 0/1 or −1/+1, got values {sorted(values)}"
        )
    return np.where(y > 0, 1.0, -1.0).astype(np.float32)


def fit(
    x: Any,
    y: Any,
    *,
    C: float = 1.0,
    kernel: str = "rbf",
    gamma: float = 1.0,
    tol: float = 1e-3,
    max_steps: int | None = None,
) -> SVM:
    """Solve one soft-margin kernel SVM in the dual by SMO.

    Args:
        x: inputs (n, d), n ≥ 2.
        y: labels (n,) as 0/1 or −1/+1, both classes present.
        C: the box bound (penalty on slack), in (0, 1e6].
        kernel: ``"linear"``, ``"poly"`` ((γ x·x′ + 1)³) or ``"rbf"`` (exp(−γ‖x − x′‖²)).
        gamma: kernel width γ, in (0, 1e4].
        tol: stop when the optimality violation is at most this (LIBSVM's default 1e-3).
        max_steps: cap on SMO steps (default 10 000 + 100·n); check ``.converged``.

    Returns:
        An :class:`SVM`.
    """
    x = check_array("x", x, ndim=2, kind="f")
    s = _labels(y)
    if len(s) != x.shape[0]:
        raise ValueError(f"y must have one label per row of x ({x.shape[0]}), got {len(s)}")
    if len(set(s.tolist())) < 2:
        raise ValueError("y must contain both classes")
    C = check_float("C", C, 0.0, 1e6, lo_open=True)
    kind = KERNELS.index(check_choice("kernel", kernel, KERNELS))
    gamma = check_float("gamma", gamma, 0.0, 1e4, lo_open=True)
    tol = check_float("tol", tol, 0.0, 1.0, lo_open=True)
    n = x.shape[0]
    max_steps = check_int("max_steps", 10_000 + 100 * n if max_steps is None else max_steps, 1)
    xj = jnp.asarray(x, jnp.float32)
    a, b, gap, steps = _smo_one(
        xj, jnp.asarray(s), jnp.ones(n, bool), jnp.float32(C), kind, jnp.float32(gamma),
        jnp.float32(tol), jnp.int32(max_steps),
    )  # fmt: skip
    fitted = SVM(xj, a, b, kind, gamma, C, float(gap), int(steps), tol)
    if not fitted.converged:
        warnings.warn(
            f"SMO stopped after max_steps={max_steps} with optimality gap {fitted.gap:.3g} > "
            f"tol={tol}; raise max_steps (a large C or γ makes the problem harder)",
            RuntimeWarning,
            stacklevel=2,
        )
    return fitted


def fit_many(
    x: Any,
    y: Any,
    valid: Any,
    *,
    C: Any,
    kind: Any,
    gamma: Any,
    tol: float = 1e-3,
    max_steps: int = 100_000,
) -> SVM:
    """Solve a batch of SVM problems, padded to one shape (one compiled program per kernel).

    Args:
        x: inputs (batch, n, d); padded rows are ignored.
        y: labels (batch, n) as 0/1.
        valid: (batch, n) booleans, False for padded rows.
        C: the box bound, one per problem (batch,) or one for all.
        kind: kernel index into :data:`KERNELS`, per problem or one for all.
        gamma: kernel width, per problem or one for all.
        tol: stop when the optimality violation is at most this.
        max_steps: cap on SMO steps; check ``.converged``.

    Returns:
        An :class:`SVM` whose fields have a leading batch axis.
    """
    x = check_array("x", x, ndim=3, kind="f")
    batch, n = x.shape[:2]
    y, valid = np.asarray(y), np.asarray(valid)
    for name, a in (("y", y), ("valid", valid)):
        if a.shape != (batch, n):
            raise ValueError(f"{name} must have shape {(batch, n)} (batch, n), got {a.shape}")
    if not set(np.unique(y[valid]).tolist()) <= {0, 1}:
        raise ValueError("y must hold labels 0/1 for fit_many")
    both = [bool((y[i][valid[i]] == 0).any() and (y[i][valid[i]] == 1).any()) for i in range(batch)]
    if not all(both):
        raise ValueError(f"y must contain both classes among the valid rows of every problem; "
                         f"problem {both.index(False)} does not")  # fmt: skip
    try:
        per = {
            name: np.broadcast_to(np.asarray(v), (batch,))
            for name, v in (("C", C), ("kind", kind), ("gamma", gamma))
        }
    except ValueError as err:
        raise ValueError(f"C, kind and gamma must each be one value or {batch} values") from err
    for i in range(batch):
        check_float(f"C[{i}]", per["C"][i].item(), 0.0, 1e6, lo_open=True)
        check_int(f"kind[{i}]", per["kind"][i].item(), 0, len(KERNELS) - 1)
        check_float(f"gamma[{i}]", per["gamma"][i].item(), 0.0, 1e4, lo_open=True)
    tol = check_float("tol", tol, 0.0, 1.0, lo_open=True)
    max_steps = check_int("max_steps", max_steps, 1)
    x = jnp.asarray(x, jnp.float32)
    s = jnp.where(jnp.asarray(y) > 0, 1.0, -1.0)
    kinds = np.asarray(per["kind"], np.int32)
    solved = [
        _smo_one(
            x[i],
            s[i],
            jnp.asarray(valid[i]),
            jnp.float32(per["C"][i]),
            int(kinds[i]),
            jnp.float32(per["gamma"][i]),
            jnp.float32(tol),
            jnp.int32(max_steps),
        )
        for i in range(batch)
    ]  # dispatched asynchronously, one after another
    a, b, gap, steps = (jnp.stack(parts) for parts in zip(*solved, strict=True))
    return SVM(
        x, a, b, per["kind"], per["gamma"], per["C"], np.asarray(gap), np.asarray(steps), tol
    )
