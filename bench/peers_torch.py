"""PyTorch CPU eager under the bench's common interface (bench/frameworks.py).

The fastest plain eager setting: torch.set_num_threads(n) (done by pin_threads),
torch.optim.Adam(fused=True) where this torch has it (else its default foreach
implementation), torch.optim.SGD for W1. The epoch's batches are views made once
(torch.split), so a step is zero_grad, forward, loss, backward, step. No
torch.compile: that is not eager. Cross-entropy is F.cross_entropy on the logits
(integer targets); mse is ½ the mean squared error (the network has one output).
"""
import numpy as np
import torch
import torch.nn.functional as F

from .workloads import DTYPE


def _adam(params, lr):
    try:
        return torch.optim.Adam(params, lr=lr, fused=True), "Adam(fused=True)"
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr), "Adam(foreach)"


class Trainer:
    name = "torch"

    def __init__(self, wl, n_threads):
        self.wl = wl
        layers = []
        for l, (n_in, n_out) in enumerate(zip(wl.sizes[:-1], wl.sizes[1:])):
            layers.append(torch.nn.Linear(n_in, n_out))
            if l < len(wl.sizes) - 2:
                layers.append(torch.nn.ReLU())
        self.net = torch.nn.Sequential(*layers)
        self.linears = [m for m in self.net if isinstance(m, torch.nn.Linear)]
        self._set_params(wl.init)
        params = list(self.net.parameters())
        if wl.optimizer == "sgd":
            self.opt, self.opt_name = torch.optim.SGD(params, lr=wl.lr), "SGD"
        else:
            self.opt, self.opt_name = _adam(params, wl.lr)
        X = torch.from_numpy(wl.X)
        if wl.loss == "cross_entropy":
            T = torch.from_numpy(wl.y)       # int64 labels
        else:
            T = torch.from_numpy(wl.Y)
        B = wl.batch_size
        self.batches = list(zip(torch.split(X, B), torch.split(T, B)))
        self.sample = None if wl.sample is None else torch.from_numpy(wl.sample)

    def _set_params(self, layers):
        with torch.no_grad():
            for lin, (W, b) in zip(self.linears, layers):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                lin.bias.copy_(torch.from_numpy(b))

    def reset(self):
        self._set_params(self.wl.init)
        self.opt.state.clear()    # fresh moments and step count

    def _loss(self, out, t):
        if self.wl.loss == "cross_entropy":
            return F.cross_entropy(out, t)
        return 0.5 * F.mse_loss(out, t)

    def epoch(self):
        net, opt, loss_fn = self.net, self.opt, self._loss
        for xb, tb in self.batches:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), tb)
            loss.backward()
            opt.step()

    def warmup(self):
        if self.wl.predict_only:
            self.predict()
            return
        xb, tb = self.batches[0]
        for _ in range(2):
            self.opt.zero_grad(set_to_none=True)
            self._loss(self.net(xb), tb).backward()
            self.opt.step()

    def predict(self):
        with torch.inference_mode():
            out = self.net(self.sample)
            if self.wl.loss == "cross_entropy":
                out = torch.softmax(out, dim=1)
            return out.numpy()

    def params(self):
        return [(lin.weight.detach().numpy().T.astype(DTYPE),
                 lin.bias.detach().numpy().astype(DTYPE)) for lin in self.linears]
