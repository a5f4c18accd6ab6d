"""Reference outputs of the MiniFASNet .pth files computed by PyTorch itself, to check models/minifasnet_onnx.py.

Not part of the product and not run by the tests: torch is needed only here, in a throwaway environment
(``python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch numpy``). The network below is
written from the architecture as the state dict and the vendor's description show it (conv + batch norm +
PReLU blocks, depthwise bottlenecks, SE gates in V1SE); ``load_state_dict(strict=True)`` checks that every
weight has its place.

Usage: ``/tmp/torchvenv/bin/python bench/minifasnet_torch_reference.py CROPS.npz OUT.npz V2.pth V1SE.pth``
where CROPS.npz holds ``crops_2.7`` and ``crops_4.0`` (N, 80, 80, 3) uint8 BGR (tests/make_minifasnet_fixture.py).
"""

from __future__ import annotations

import re
import sys

import numpy as np
import torch
from torch import nn


class ConvBnPrelu(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 prelu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=1 if kernel == 3 else 0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        if prelu:
            self.prelu = nn.PReLU(c_out)
        self.use_prelu = prelu

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.use_prelu else x


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        gate = x.mean(dim=(2, 3), keepdim=True)
        gate = torch.sigmoid(self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(gate))))))
        return x * gate


class Bottleneck(nn.Module):
    def __init__(self, c_in: int, hidden: int, c_out: int, stride: int, residual: bool, se_hidden: int = 0) -> None:
        super().__init__()
        self.conv = ConvBnPrelu(c_in, hidden)
        self.conv_dw = ConvBnPrelu(hidden, hidden, 3, stride, groups=hidden)
        self.project = ConvBnPrelu(hidden, c_out, prelu=False)
        if se_hidden:
            self.se_module = SqueezeExcite(c_out, se_hidden)
        self.residual = residual

    def forward(self, x):
        y = self.project(self.conv_dw(self.conv(x)))
        if hasattr(self, "se_module"):
            y = self.se_module(y)
        return x + y if self.residual else y


class Stage(nn.Module):
    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.model = nn.Sequential(*blocks)

    def forward(self, x):
        return self.model(x)


class MiniFasNet(nn.Module):
    """Shapes read from the state dict (the published networks are pruned, channel counts vary per block)."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        shape = {k: tuple(v.shape) for k, v in state.items()}

        def bottleneck(prefix: str, stride: int, residual: bool) -> Bottleneck:
            hidden, c_in = shape[f"{prefix}.conv.conv.weight"][:2]
            c_out = shape[f"{prefix}.project.conv.weight"][0]
            se = shape.get(f"{prefix}.se_module.fc1.weight", (0,))[0]
            return Bottleneck(c_in, hidden, c_out, stride, residual, se)

        c1 = shape["conv1.conv.weight"][0]
        self.conv1 = ConvBnPrelu(3, c1, 3, 2)
        self.conv2_dw = ConvBnPrelu(c1, c1, 3, 1, groups=c1)
        for down, stage in (("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5")):
            setattr(self, down, bottleneck(down, 2, False))
            count = len({k.split(".")[2] for k in shape if k.startswith(f"{stage}.model.")})
            setattr(self, stage, Stage([bottleneck(f"{stage}.model.{i}", 1, True) for i in range(count)]))
        c6 = shape["conv_6_sep.conv.weight"]
        self.conv_6_sep = ConvBnPrelu(c6[1], c6[0])
        self.conv_6_dw = ConvBnPrelu(c6[0], c6[0], 5, 1, groups=c6[0], prelu=False)
        self.linear = nn.Linear(*reversed(shape["linear.weight"]), bias=False)
        self.bn = nn.BatchNorm1d(shape["linear.weight"][0])
        self.prob = nn.Linear(*reversed(shape["prob.weight"]), bias=False)

    def forward(self, x):
        x = self.conv2_dw(self.conv1(x))
        x = self.conv_3(self.conv_23(x))
        x = self.conv_4(self.conv_34(x))
        x = self.conv_5(self.conv_45(x))
        x = self.conv_6_dw(self.conv_6_sep(x)).flatten(1)
        return self.prob(self.bn(self.linear(x)))


def load(path: str) -> MiniFasNet:
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {re.sub(r"^module\.", "", k): v for k, v in state.items()}
    net = MiniFasNet(state)
    net.load_state_dict(state, strict=True)
    return net.eval()


def main() -> int:
    crops_path, out_path, v2_path, v1se_path = sys.argv[1:5]
    crops = np.load(crops_path)
    out = {}
    with torch.no_grad():
        for name, path, key in (("v2", v2_path, "crops_2.7"), ("v1se", v1se_path, "crops_4.0")):
            batch = torch.from_numpy(crops[key].transpose(0, 3, 1, 2).astype(np.float32))
            logits = load(path)(batch)
            out[f"{name}_logits"] = logits.numpy()
            out[f"{name}_probs"] = torch.softmax(logits, dim=1).numpy()
    np.savez(out_path, **out)
    print("torch", torch.__version__, {k: v.shape for k, v in out.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
