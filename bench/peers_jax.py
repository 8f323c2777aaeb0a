"""JAX under the bench's common interface (bench/frameworks.py), in its best case: the
whole epoch is one jitted function, a lax.scan of the training step over the batches,
so no Python runs between steps. Adam/SGD from optax when it is installed, else the
same rules written in JAX (torch's/optax's Adam: eps added to sqrt(v_hat)).

The epoch function is compiled ahead of time in warmup() (jit(...).lower(...).compile())
and its parameter/optimizer-state buffers are donated, so an epoch updates in place.
The data lives on the device as (n_batches, B, width) arrays made once. JAX/XLA sizes
its CPU thread pool when its backend starts; pin_threads can then only restrict it by
affinity, so the backend is started at import (jax.devices()).
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .workloads import DTYPE

try:
    import optax
except ImportError:   # optional
    optax = None

jax.devices()   # start the CPU backend now, with every core allowed (see above)


# ---------------------------------------------------------------------- optimizers
def _make_optimizer(kind, lr, b1=0.9, b2=0.999, eps=1e-8):
    """(init(params) -> state, update(grads, state, params) -> (params, state), name)."""
    if optax is not None:
        tx = optax.sgd(lr) if kind == "sgd" else optax.adam(lr, b1=b1, b2=b2, eps=eps)

        def update(grads, state, params):
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        return tx.init, update, f"optax.{kind}"

    if kind == "sgd":
        def init(params):
            return ()

        def update(grads, state, params):
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), state

        return init, update, "sgd (jax)"

    def init(params):
        # m and v in buffers of their own: the epoch donates (overwrites) both
        def zeros():
            return jax.tree_util.tree_map(jnp.zeros_like, params)
        return (jnp.zeros((), jnp.int32), zeros(), zeros())

    def update(grads, state, params):
        t, m, v = state
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
        tf = t.astype(DTYPE)
        c1 = 1 - jnp.asarray(b1, DTYPE) ** tf
        c2 = 1 - jnp.asarray(b2, DTYPE) ** tf
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), params, m, v)
        return params, (t, m, v)

    return init, update, "adam (jax)"


# ---------------------------------------------------------------------- network
def _logits(params, x):
    a = x
    for W, b in params[:-1]:
        a = jax.nn.relu(a @ W + b)
    W, b = params[-1]
    return a @ W + b


def _make_loss(loss):
    if loss == "cross_entropy":
        def fn(params, x, t):      # t one-hot
            z = _logits(params, x)
            return -jnp.mean(jnp.sum(t * jax.nn.log_softmax(z, axis=1), axis=1))
    else:
        def fn(params, x, t):      # ½ (ŷ - y)² summed over outputs, mean over rows
            z = _logits(params, x)
            return 0.5 * jnp.mean(jnp.sum((z - t) ** 2, axis=1))
    return fn


def make_epoch(wl):
    """(epoch(params, state, Xb, Tb) -> (params, state, summed loss), opt_init, name):
    the workload's training epoch, a lax.scan of its steps over the batches."""
    opt_init, opt_update, opt_name = _make_optimizer(wl.optimizer, wl.lr)
    grad_fn = jax.value_and_grad(_make_loss(wl.loss))

    def step(carry, batch):
        params, state = carry
        loss, grads = grad_fn(params, *batch)
        params, state = opt_update(grads, state, params)
        return (params, state), loss

    def epoch(params, state, Xb, Tb):
        (params, state), losses = lax.scan(step, (params, state), (Xb, Tb))
        return params, state, jnp.sum(losses)

    return epoch, opt_init, opt_name


class Trainer:
    name = "jax"

    def __init__(self, wl, n_threads):
        self.wl = wl
        self.device = jax.devices("cpu")[0]
        epoch, self._opt_init, self.opt_name = make_epoch(wl)

        def predict(params, x):
            z = _logits(params, x)
            return jax.nn.softmax(z, axis=1) if wl.loss == "cross_entropy" else z

        self._epoch_fn = jax.jit(epoch, donate_argnums=(0, 1))
        self._predict_fn = jax.jit(predict)
        self._epoch = None
        n, B = wl.n_samples, wl.batch_size
        if n % B:
            raise NotImplementedError("the scan epoch needs n_samples divisible by the "
                                      "batch size")
        if not wl.predict_only:
            self.Xb = jax.device_put(wl.X.reshape(n // B, B, -1), self.device)
            self.Tb = jax.device_put(wl.Y.reshape(n // B, B, -1), self.device)
        self.reset()

    def reset(self):
        self.state_params = [(jax.device_put(W, self.device), jax.device_put(b, self.device))
                             for W, b in self.wl.init]
        # every leaf in a buffer of its own (from NumPy): the epoch donates them all,
        # and JAX may hand out one buffer for equal constants (zeros)
        self.opt_state = jax.tree_util.tree_map(
            lambda x: jax.device_put(np.array(x), self.device),
            self._opt_init(self.state_params))

    def warmup(self):
        """Compile the epoch (ahead of time, nothing trained) or the predict."""
        if self.wl.predict_only:
            self.predict()
            return
        self._epoch = self._epoch_fn.lower(self.state_params, self.opt_state, self.Xb,
                                           self.Tb).compile()

    def epoch(self):
        if self._epoch is None:
            self.warmup()
        self.state_params, self.opt_state, loss = self._epoch(
            self.state_params, self.opt_state, self.Xb, self.Tb)
        loss.block_until_ready()

    def predict(self):
        return np.asarray(self._predict_fn(self.state_params, self.wl.sample))

    def params(self):
        return [(np.asarray(W), np.asarray(b)) for W, b in self.state_params]
