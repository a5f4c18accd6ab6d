"""Convert Minivision's Silent-Face MiniFASNetV2 / MiniFASNetV1SE (.pth, legacy format) to ONNX, without torch.

The network, as its state dict shows it (every channel count is read from the weights, since the
published models are pruned): a stem (3x3 conv stride 2, then a 3x3 depthwise conv), three downsampling
bottlenecks (1x1 expand, 3x3 depthwise stride 2, 1x1 linear projection) each followed by a stage of
residual bottlenecks at stride 1 (in V1SE the last block of each stage also has a squeeze-and-excitation
gate before the residual add), a 1x1 conv to 512 channels, a 5x5 depthwise conv that reduces the 5x5 map
to 1x1, a linear layer to 128 with batch norm, and a linear layer to 3 classes. Every conv is followed by
batch norm, which is folded into the conv; the non-linearity is a per-channel PReLU (none after a
projection). Input ``crops``: float32 [N,3,80,80], BGR 0-255 as cropped (not divided by 255); outputs
``logits`` [N,3] and ``probs`` (their softmax); class 1 is a real face.

Usage: ``python -m models.minifasnet_onnx MODEL.pth OUT.onnx``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from models.errors import ModelFileError
from models.dlib_onnx import _GraphBuilder
from models.onnx_file import save_model
from models.torch_legacy import TorchFormatError, read_legacy_state_dict

OPSET = 17
INPUT_NAME = "crops"
LOGITS_NAME = "logits"
PROBS_NAME = "probs"
INPUT_SIZE_PX = 80
LIVE_CLASS = 1
BN_EPS = 1e-5  # PyTorch's BatchNorm default; the vendor does not change it
_CONVERTER_VERSION = "1"
_STAGES = (("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5"))


class _Weights:
    """The state dict without DataParallel's ``module.`` prefix; remembers which keys were used."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.arrays = {re.sub(r"^module\.", "", k): v for k, v in state.items()}
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self.arrays

    def get(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise TorchFormatError(f"the state dict has no {key}: not a MiniFASNet")
        self.used.add(key)
        return self.arrays[key].astype(np.float64)

    def bn_scale_shift(self, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        """Batch norm in eval mode as y = x * scale + shift."""
        self.used.add(f"{prefix}.num_batches_tracked")
        scale = self.get(f"{prefix}.weight") / np.sqrt(self.get(f"{prefix}.running_var") + BN_EPS)
        return scale, self.get(f"{prefix}.bias") - self.get(f"{prefix}.running_mean") * scale


def _conv_bn(g: _GraphBuilder, w: _Weights, x: str, conv_key: str, bn_prefix: str, *, stride: int = 1,
             depthwise: bool = False) -> str:
    """Conv (no bias) + batch norm folded into one Conv; padding keeps 3x3 maps, none for 1x1 and 5x5."""
    weight = w.get(conv_key)
    scale, shift = w.bn_scale_shift(bn_prefix)
    kernel_px = weight.shape[2]
    pad_px = 1 if kernel_px == 3 else 0
    return g.node(
        "Conv",
        [x, g.constant("conv_w", (weight * scale[:, None, None, None]).astype(np.float32)),
         g.constant("conv_b", shift.astype(np.float32))],
        "conv", kernel_shape=[kernel_px, kernel_px], strides=[stride, stride], pads=[pad_px] * 4,
        group=weight.shape[0] if depthwise else 1,
    )


def _conv_block(g: _GraphBuilder, w: _Weights, x: str, prefix: str, *, stride: int = 1,
                depthwise: bool = False) -> str:
    """conv + bn + PReLU (the vendor's Conv_block)."""
    y = _conv_bn(g, w, x, f"{prefix}.conv.weight", f"{prefix}.bn", stride=stride, depthwise=depthwise)
    slope = w.get(f"{prefix}.prelu.weight").astype(np.float32)[:, None, None]
    return g.node("PRelu", [y, g.constant("prelu", slope)], "prelu")


def _squeeze_excite(g: _GraphBuilder, w: _Weights, x: str, prefix: str) -> str:
    """x * sigmoid(bn2(fc2(relu(bn1(fc1(mean over the map))))))."""
    pooled = g.node("GlobalAveragePool", [x], "se")
    hidden = g.node("Relu", [_conv_bn(g, w, pooled, f"{prefix}.fc1.weight", f"{prefix}.bn1")], "se")
    gate = g.node("Sigmoid", [_conv_bn(g, w, hidden, f"{prefix}.fc2.weight", f"{prefix}.bn2")], "se")
    return g.node("Mul", [x, gate], "se")


def _bottleneck(g: _GraphBuilder, w: _Weights, x: str, prefix: str, *, stride: int, residual: bool) -> str:
    """1x1 expand, 3x3 depthwise, 1x1 projection (no PReLU), optional SE gate and residual add."""
    y = _conv_block(g, w, x, f"{prefix}.conv")
    y = _conv_block(g, w, y, f"{prefix}.conv_dw", stride=stride, depthwise=True)
    y = _conv_bn(g, w, y, f"{prefix}.project.conv.weight", f"{prefix}.project.bn")
    if w.has(f"{prefix}.se_module.fc1.weight"):
        y = _squeeze_excite(g, w, y, f"{prefix}.se_module")
    return g.node("Add", [x, y], "residual") if residual else y


def build_minifasnet(state: dict[str, np.ndarray], name: str, source_sha256: str) -> onnx.ModelProto:
    """Build the ONNX graph of a MiniFASNet state dict (V2 or V1SE: the SE gates are found by key)."""
    w = _Weights(state)
    g = _GraphBuilder()
    x = _conv_block(g, w, INPUT_NAME, "conv1", stride=2)
    x = _conv_block(g, w, x, "conv2_dw", depthwise=True)
    for down, stage in _STAGES:
        x = _bottleneck(g, w, x, down, stride=2, residual=False)
        index = 0
        while w.has(f"{stage}.model.{index}.conv.conv.weight"):
            x = _bottleneck(g, w, x, f"{stage}.model.{index}", stride=1, residual=True)
            index += 1
    x = _conv_block(g, w, x, "conv_6_sep")
    x = _conv_bn(g, w, x, "conv_6_dw.conv.weight", "conv_6_dw.bn", depthwise=True)
    if w.arrays["conv_6_dw.conv.weight"].shape[2:] != (5, 5):
        raise TorchFormatError("the last depthwise kernel is not 5x5: not an 80x80 MiniFASNet")
    flat = g.node("Flatten", [x], "flatten", axis=1)
    scale, shift = w.bn_scale_shift("bn")  # BatchNorm1d after the linear layer, folded into it
    linear = (w.get("linear.weight").T * scale[None, :]).astype(np.float32)
    embedding = g.node("Add", [g.node("MatMul", [flat, g.constant("linear_w", linear)], "linear"),
                               g.constant("linear_b", shift.astype(np.float32))], "linear")
    prob_w = w.get("prob.weight").T.astype(np.float32)
    g.node("MatMul", [embedding, g.constant("prob_w", prob_w)], "prob", output=LOGITS_NAME)
    g.node("Softmax", [LOGITS_NAME], "softmax", output=PROBS_NAME, axis=1)
    unused = sorted(set(w.arrays) - w.used)
    if unused:
        raise TorchFormatError(f"the state dict has weights this converter does not place: {unused[0]}")
    n_classes = prob_w.shape[1]
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, INPUT_SIZE_PX, INPUT_SIZE_PX])],
        [helper.make_tensor_value_info(LOGITS_NAME, TensorProto.FLOAT, ["N", n_classes]),
         helper.make_tensor_value_info(PROBS_NAME, TensorProto.FLOAT, ["N", n_classes])],
        g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="school-attendance models.minifasnet_onnx", producer_version=_CONVERTER_VERSION,
        doc_string="Silent-Face MiniFASNet; input BGR 0-255 NCHW float32 80x80 crops; class 1 = real face",
    )
    model.ir_version = 8
    helper.set_model_props(model, {"model_id": name, "source_sha256": source_sha256})
    return model


def convert_minifasnet(pth_path: Path, out_path: Path, name: str = "minifasnet") -> str:
    """Convert a MiniFASNet .pth to ONNX at out_path (atomically); returns the ONNX file's sha256.

    The output bytes depend only on the input bytes. Raises ``ModelFileError`` for an unreadable or foreign file.
    """
    source = Path(pth_path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {source}: {exc.strerror or exc}") from exc
    try:
        model = build_minifasnet(read_legacy_state_dict(data), name, hashlib.sha256(data).hexdigest())
    except TorchFormatError as exc:
        raise ModelFileError(f"{source}: {exc}") from exc
    onnx.checker.check_model(model)
    return save_model(model, out_path, sha256_file=False)  # the installer keeps the hash beside it


def main(argv: list[str] | None = None) -> int:
    """Run the converter from the command line; print the sha256 of the written model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pth", type=Path, help="MiniFASNetV2 or MiniFASNetV1SE .pth (legacy PyTorch format)")
    parser.add_argument("out", type=Path, help="output .onnx path")
    args = parser.parse_args(argv)
    print(convert_minifasnet(args.pth, args.out, args.pth.stem))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
