"""Convert dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1.dat) to an ONNX model.

The graph reproduces dlib's forward pass exactly (same layers, same paddings, dlib's zero-padding
``add_prev``); each ``con`` + ``affine`` pair is folded into one Conv.  Input ``chips``: float32
[N,150,150,3] RGB in 0..255 (a dlib face chip as float); output ``embeddings``: float32 [N,128].
The default output location is ``<instance_path>/models/dlib_resnet_v1.onnx``.

Usage: ``python -m models.dlib_onnx OUT.onnx [--dat PATH]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.errors import ModelFileError
from models.dlib_dat import DatFormatError, DlibNet, Layer, parse_dlib_net
from models.onnx_file import save_model

MODEL_ID = "dlib_resnet_v1"
DAT_FILENAME = "dlib_face_recognition_resnet_model_v1.dat"
ONNX_FILENAME = f"{MODEL_ID}.onnx"
OPSET = 17
INPUT_NAME = "chips"
OUTPUT_NAME = "embeddings"
_CONVERTER_VERSION = "1"

# dnn_face_recognition_ex.cpp, innermost first.  Tag ids are not stored in the .dat file, so this
# template supplies them: tagN records the current output, skipN restores it, add_prevN adds it.
_ARES = ["tag1", "con", "affine", "relu", "con", "affine", "add_prev1", "relu"]
_ARES_DOWN = ["tag1", "con", "affine", "relu", "con", "affine", "tag2", "skip1", "avg_pool", "add_prev2", "relu"]
FACE_RESNET_TEMPLATE = (
    ["con", "affine", "relu", "max_pool"]
    + _ARES * 3  # alevel4: 32 filters
    + _ARES_DOWN + _ARES * 3  # alevel3: 64
    + _ARES_DOWN + _ARES * 2  # alevel2: 128
    + _ARES_DOWN + _ARES * 2  # alevel1: 256
    + _ARES_DOWN  # alevel0: 256
    + ["avg_pool", "fc"]  # avg_pool_everything, fc_no_bias<128>
)


def default_dat_path() -> Path:
    """Return the path of the ResNet .dat file of the installed face-recognition-models package."""
    spec = importlib.util.find_spec("face_recognition_models")  # not imported: it needs pkg_resources
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("the face-recognition-models package is not installed")
    return Path(spec.submodule_search_locations[0]) / "models" / DAT_FILENAME


@dataclass
class _Value:
    """A tensor of the graph being built: its name and its static (channels, rows, cols) shape."""

    name: str
    shape: tuple[int, int, int]


class _GraphBuilder:
    """Accumulates ONNX nodes and initializers with deterministic names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def constant(self, prefix: str, array: np.ndarray) -> str:
        name = self.fresh(prefix)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], prefix: str, output: str | None = None, **attrs: Any) -> str:
        out = output or self.fresh(prefix)
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{prefix}_{self.count}_{op}", **attrs))
        return out


def _pooled_size_px(size_px: int, window_px: int, stride_px: int, pad_px: int) -> int:
    """Return dlib's (and ONNX's floor-mode) output size of a conv or pooling along one axis."""
    return 1 + (size_px + 2 * pad_px - window_px) // stride_px


def _emit_conv(g: _GraphBuilder, x: _Value, con: Layer, affine: Layer | None) -> _Value:
    """Emit Conv for dlib ``con`` (cross-correlation), folding a following per-channel ``affine``."""
    weight = con.arrays["weight"].astype(np.float64)
    bias = con.arrays["bias"].astype(np.float64)
    if affine is not None:
        gamma = affine.arrays["gamma"].ravel().astype(np.float64)
        beta = affine.arrays["beta"].ravel().astype(np.float64)
        weight = weight * gamma[:, None, None, None]
        bias = bias * gamma + beta
    ints = con.ints
    out = g.node(
        "Conv",
        [x.name, g.constant("conv_w", weight.astype(np.float32)), g.constant("conv_b", bias.astype(np.float32))],
        "conv",
        kernel_shape=[ints["rows"], ints["cols"]],
        strides=[ints["stride_y"], ints["stride_x"]],
        pads=[ints["pad_y"], ints["pad_x"], ints["pad_y"], ints["pad_x"]],
    )
    rows = _pooled_size_px(x.shape[1], ints["rows"], ints["stride_y"], ints["pad_y"])
    cols = _pooled_size_px(x.shape[2], ints["cols"], ints["stride_x"], ints["pad_x"])
    return _Value(out, (ints["num_filters"], rows, cols))


def _emit_affine(g: _GraphBuilder, x: _Value, affine: Layer) -> _Value:
    """Emit x * gamma + beta for an ``affine`` not preceded by a conv (per channel or per element)."""
    shape = (1, x.shape[0], 1, 1) if affine.ints["mode"] == 0 else (1, *x.shape)
    gamma = g.constant("affine_gamma", affine.arrays["gamma"].reshape(shape))
    beta = g.constant("affine_beta", affine.arrays["beta"].reshape(shape))
    return _Value(g.node("Add", [g.node("Mul", [x.name, gamma], "affine"), beta], "affine"), x.shape)


def _emit_pool(g: _GraphBuilder, x: _Value, pool: Layer) -> _Value:
    """Emit dlib max/avg pooling; a 0 window means the whole image (``*_pool_everything``)."""
    ints = pool.ints
    rows_px = ints["rows"] or x.shape[1]
    cols_px = ints["cols"] or x.shape[2]
    if (rows_px, cols_px) == x.shape[1:] and ints["pad_y"] == ints["pad_x"] == 0:
        op = "GlobalMaxPool" if pool.kind == "max_pool" else "GlobalAveragePool"
        return _Value(g.node(op, [x.name], pool.kind), (x.shape[0], 1, 1))
    attrs: dict[str, Any] = {
        "kernel_shape": [rows_px, cols_px],
        "strides": [ints["stride_y"], ints["stride_x"]],
        "pads": [ints["pad_y"], ints["pad_x"], ints["pad_y"], ints["pad_x"]],
    }
    if pool.kind == "avg_pool":
        attrs["count_include_pad"] = 0  # dlib averages only the pixels inside the image
    op = "MaxPool" if pool.kind == "max_pool" else "AveragePool"
    rows = _pooled_size_px(x.shape[1], rows_px, ints["stride_y"], ints["pad_y"])
    cols = _pooled_size_px(x.shape[2], cols_px, ints["stride_x"], ints["pad_x"])
    return _Value(g.node(op, [x.name], pool.kind, **attrs), (x.shape[0], rows, cols))


def _emit_zero_padded_add(g: _GraphBuilder, a: _Value, b: _Value) -> _Value:
    """Emit dlib's add_prev: both tensors zero-padded (channels, rows, cols at the end) to the max shape."""
    shape = tuple(max(sa, sb) for sa, sb in zip(a.shape, b.shape))
    names = []
    for value in (a, b):
        if value.shape == shape:
            names.append(value.name)
            continue
        ends = [0] + [target - have for target, have in zip(shape, value.shape)]
        pads = g.constant("pads", np.array([0, 0, 0, 0] + ends, dtype=np.int64))
        names.append(g.node("Pad", [value.name, pads], "zero_pad", mode="constant"))
    return _Value(g.node("Add", names, "add_prev"), shape)  # type: ignore[arg-type]


def _check_template(net: DlibNet) -> None:
    kinds = [layer.kind for layer in net.layers]
    expected = ["marker" if t.startswith(("tag", "skip")) else t.rstrip("0123456789") for t in FACE_RESNET_TEMPLATE]
    if kinds != expected:
        raise DatFormatError("the .dat file is not dlib's face recognition ResNet (layer sequence differs)")
    if net.input.kind != "input_rgb_image_sized" or (net.input.rows_px, net.input.cols_px) != (150, 150):
        raise DatFormatError(f"unexpected input layer {net.input}")


def build_onnx_model(net: DlibNet, source_sha256: str = "") -> onnx.ModelProto:
    """Build the ONNX model of a parsed dlib face ResNet (see FACE_RESNET_TEMPLATE)."""
    _check_template(net)
    g = _GraphBuilder()
    mean = g.constant("input_mean", np.array(net.input.mean_rgb, dtype=np.float32))
    scale = g.constant("input_scale", np.array(1.0 / 256.0, dtype=np.float32))  # exact power of two
    centered = g.node("Sub", [INPUT_NAME, mean], "input")
    nchw = g.node("Transpose", [g.node("Mul", [centered, scale], "input")], "input", perm=[0, 3, 1, 2])
    x = _Value(nchw, (3, net.input.rows_px, net.input.cols_px))
    tags: dict[str, _Value] = {}
    layers = net.layers
    index = 0
    while index < len(layers):
        token, layer = FACE_RESNET_TEMPLATE[index], layers[index]
        if token.startswith("tag"):
            tags[token[3:]] = x
        elif token.startswith("skip"):
            x = tags[token[4:]]
        elif token.startswith("add_prev"):
            x = _emit_zero_padded_add(g, x, tags[token[8:]])
        elif token == "con":
            following = layers[index + 1] if index + 1 < len(layers) else None
            fold = following is not None and following.kind == "affine" and following.ints["mode"] == 0
            x = _emit_conv(g, x, layer, following if fold else None)
            index += 1 if fold else 0
        elif token == "affine":
            x = _emit_affine(g, x, layer)
        elif token == "relu":
            x = _Value(g.node("Relu", [x.name], "relu"), x.shape)
        elif token in ("max_pool", "avg_pool"):
            x = _emit_pool(g, x, layer)
        elif token == "fc":
            flat = g.node("Flatten", [x.name], "fc", axis=1)
            weight = g.constant("fc_w", layer.arrays["weight"])
            has_bias = "bias" in layer.arrays
            out = g.node("MatMul", [flat, weight], "fc", output=None if has_bias else OUTPUT_NAME)
            if has_bias:
                g.node("Add", [out, g.constant("fc_b", layer.arrays["bias"])], "fc", output=OUTPUT_NAME)
        index += 1
    num_outputs = layers[-1].ints["num_outputs"]
    graph = helper.make_graph(
        g.nodes,
        MODEL_ID,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", net.input.rows_px, net.input.cols_px, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", num_outputs])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="school-attendance models.dlib_onnx",
        producer_version=_CONVERTER_VERSION,
        doc_string="dlib face recognition ResNet v1; input RGB 0..255 NHWC float32 chips from dlib.get_face_chip",
    )
    model.ir_version = 8  # opset 17's IR version, readable by onnxruntime >= 1.13
    helper.set_model_props(model, {"model_id": MODEL_ID, "source": DAT_FILENAME, "source_sha256": source_sha256})
    return model


def convert_dlib_resnet(dat_path: Path | None, out_path: Path) -> str:
    """Convert the .dat (default: the installed package's) to ONNX at out_path; write out_path.sha256.

    The output bytes depend only on the input bytes.  Returns the sha256 hex of the ONNX file.
    """
    source = Path(dat_path) if dat_path is not None else default_dat_path()
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read dlib model {source}: {exc.strerror or exc}") from exc
    try:
        model = build_onnx_model(parse_dlib_net(data), hashlib.sha256(data).hexdigest())
    except DatFormatError as exc:
        raise ModelFileError(f"{source}: {exc}") from exc
    onnx.checker.check_model(model)
    return save_model(model, out_path)


def main(argv: list[str] | None = None) -> int:
    """Run the converter from the command line; print the sha256 of the written model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help=f"output .onnx path (convention: <instance>/models/{ONNX_FILENAME})")
    parser.add_argument("--dat", type=Path, default=None, help="dlib .dat file (default: face-recognition-models)")
    args = parser.parse_args(argv)
    print(convert_dlib_resnet(args.dat, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
