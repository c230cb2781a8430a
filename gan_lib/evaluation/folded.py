"""The FID Inception network (Szegedy et al. 2016, as clean-fid loads it) re-expressed for CPU inference.

The TorchScript file runs each of its 94 convolutions as `conv2d -> batch_norm -> relu` and ends each Inception
block with `contiguous()` calls, which turn channels-last activations back to NCHW. Here its frozen graph is read
once and replayed with eager ops: every batch norm folded into its convolution's weight and bias (computed in
float64, rounded once to float32), the ReLU applied in place, the no-op `to` and `contiguous` calls dropped, so
activations stay channels-last end to end. The weights, the ops and their order are the file's own; only float
rounding differs (features change by ~1e-6 relative, FID by less; measured in README, Performance).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

_ALIASES = {"aten::to", "aten::contiguous"}  # weight casts to the input's dtype, NCHW re-layouts: identity here


def _fold(weight: torch.Tensor, gamma: torch.Tensor | None, beta: torch.Tensor | None, mean: torch.Tensor,
          var: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """conv weight and bias with the inference batch norm that follows folded in (float64, one rounding)."""
    scale = (var.double() + eps).rsqrt() * (1.0 if gamma is None else gamma.double())
    w = weight.double() * scale[:, None, None, None]
    b = (0.0 if beta is None else beta.double()) - mean.double() * scale
    return w.float().contiguous(memory_format=torch.channels_last), b.float()


class FoldedNetwork:
    """A callable float32 [B, 3, 299, 299] in [-1, 1) -> [B, 2048, 1, 1], equal to the TorchScript module's
    forward up to float rounding, with batch norms folded into convolutions."""

    def __init__(self, module: torch.jit.ScriptModule):
        with torch.inference_mode():
            graph = torch.jit.freeze(module.eval()).graph
        nodes = list(graph.nodes())
        uses = {v.debugName(): len(v.uses()) for n in nodes for v in n.outputs()}
        self.steps: list[tuple[Callable[..., Any], list[str], str]] = []
        self.consts: dict[str, Any] = {}
        self.alias: dict[str, str] = {}
        producer: dict[str, int] = {}  # value name -> index of the conv step that makes it
        for node in nodes:
            kind, raw = node.kind(), [v.debugName() for v in node.inputs()]
            ins = [self._name(r) for r in raw]
            out = node.output().debugName() if node.outputsSize() == 1 else None
            if kind == "prim::Constant":
                self.consts[out] = node.output().toIValue()
            elif kind == "prim::dtype" or kind in _ALIASES:
                self.alias[out] = ins[0]
            elif kind == "prim::ListConstruct":
                self.steps.append((lambda *xs: list(xs), ins, out))
            elif kind == "aten::conv2d":
                producer[out] = len(self.steps)
                self.steps.append(("conv", ins, out))
            elif kind == "aten::batch_norm" and ins[0] in producer and uses[ins[0]] == 1:
                i = producer.pop(ins[0])
                x, w, conv_bias, stride, padding, dilation, groups = self.steps[i][1]
                if self.consts.get(conv_bias) is not None:
                    raise ValueError("cannot re-express the Inception graph: a convolution with a bias")
                weight, bias = _fold(self.consts[w], self.consts[ins[1]], self.consts[ins[2]], self.consts[ins[3]],
                                     self.consts[ins[4]], self.consts[ins[7]])
                args = (weight, bias) + tuple(self.consts[a] for a in (stride, padding, dilation, groups))
                self.steps[i] = (lambda x, a=args: F.conv2d(x, *a), [x], self.steps[i][2])
                self.alias[out] = self.steps[i][2]
            elif kind == "aten::relu" and self.steps and ins[0] == self.steps[-1][2] and uses[raw[0]] == 1:
                fn = self.steps[-1][0]
                self.steps[-1] = (lambda x, f=fn: f(x).relu_(), self.steps[-1][1], self.steps[-1][2])
                self.alias[out] = self.steps[-1][2]
            elif kind.startswith("aten::"):
                self.steps.append((getattr(torch.ops.aten, kind[6:]), ins, out))
            else:
                raise ValueError(f"cannot re-express the Inception graph: unexpected op {kind}")
        if any(s[0] == "conv" for s in self.steps):
            raise ValueError("cannot re-express the Inception graph: a convolution without its batch norm")
        self.input = self._name(list(graph.inputs())[1].debugName())
        self.output = self._name(list(graph.outputs())[0].debugName())
        last_use = {name: i for i, (_, ins, _) in enumerate(self.steps) for name in ins if name not in self.consts}
        self.free = [[n for n in dict.fromkeys(ins) if last_use.get(n) == i and n != self.output] for i, (_, ins, _) in
                     enumerate(self.steps)]  # activations to drop after each step, so memory stays that of eager

    def _name(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        env = dict(self.consts)
        env[self.input] = x.contiguous(memory_format=torch.channels_last)
        for (fn, ins, out), free in zip(self.steps, self.free):
            env[out] = fn(*(env[i] for i in ins))
            for name in free:
                del env[name]
        return env[self.output]
