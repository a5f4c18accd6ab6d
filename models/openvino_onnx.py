"""Converts an OpenVINO IR (read by ``models/openvino_ir.py``) to an ONNX model that ONNX Runtime runs.

Only the operation types Intel's face-reidentification-retail-0095 uses (FP16 and FP16-INT8 copies) are
known; any other is refused by name. Constant subgraphs (FP16 weights and their ``Convert``, INT8 weights
with their ``Convert`` and per-channel ``Multiply`` scale, ``Reshape`` of weights) are folded into float32
initializers, so the ONNX file holds the same float32 weights OpenVINO computes. ``FakeQuantize`` on
activations becomes the same arithmetic in elementwise operations (Max, Min, Round, Mul, Add): as
QuantizeLinear/DequantizeLinear, ONNX Runtime 1.32's full optimisation fuses it into QLinearAveragePool,
which refuses the per-channel ranges, and runs no faster. The batch axis is left free (``N``).

The output bytes depend only on the input bytes: same IR, same file, same sha256 (written beside it).
Usage: ``python -m models.openvino_onnx MODEL.xml OUT.onnx [--model-id ID]``.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.errors import ModelFileError
from models.openvino_ir import IrModel, Layer, parse_ints, read_ir
from models.onnx_file import save_model

OPSET = 17
INPUT_NAME = "chips"
OUTPUT_NAME = "embeddings"
_CONVERTER_VERSION = "1"
SUPPORTED_OPS = ("Add", "AvgPool", "Const", "Convert", "Convolution", "FakeQuantize", "GroupConvolution",
                 "Multiply", "PReLU", "Parameter", "Reshape", "Result", "Sigmoid", "Subtract")
_FOLDABLE = ("Add", "Convert", "Multiply", "Reshape", "Subtract")
_ELEMENTWISE = {"Add": "Add", "Multiply": "Mul", "Subtract": "Sub"}
_CONVERT_TO = {"f32": np.float32, "f16": np.float32, "i64": np.int64, "i32": np.int32}  # f16 widened to float32

Value = np.ndarray | str  # a folded constant, or the name of a tensor of the ONNX graph


class _Graph:
    """The ONNX nodes and initializers being built, with names derived from the IR's layer ids."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}

    def constant(self, name: str, array: np.ndarray) -> str:
        if name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(np.ascontiguousarray(array), name)
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=f"{op}_{output}", **attrs))
        return output


def build_onnx_model(ir: IrModel, model_id: str, source: dict[str, str] | None = None) -> onnx.ModelProto:
    """The ONNX model of ``ir``. Raises ``ModelFileError`` naming any operation type this converter does not know."""
    unknown = [op for op in ir.op_types() if op not in SUPPORTED_OPS]
    if unknown:
        raise ModelFileError(f"OpenVINO IR {ir.name!r}: operation type(s) {', '.join(unknown)} cannot be converted "
                         f"(this converter knows {', '.join(SUPPORTED_OPS)})")
    g = _Graph()
    values: dict[tuple[int, int], Value] = {}
    inputs, outputs = [], []
    for layer in ir.layers:
        sources = ir.sources(layer)
        if any(source_port not in values for source_port in sources):
            raise ModelFileError(f"OpenVINO IR: layer {layer.id} ({layer.type}) reads an output this converter does not make")
        args = [values[source_port] for source_port in sources]
        out_port = layer.outputs[0].id if layer.outputs else 0
        tensor = f"t{layer.id}"
        if layer.type == "Const":
            values[(layer.id, out_port)] = ir.const_array(layer)
        elif layer.type == "Parameter":
            inputs.append(_graph_input(layer))
            values[(layer.id, out_port)] = INPUT_NAME
        elif layer.type == "Result":
            if not isinstance(args[0], str):
                raise ModelFileError("OpenVINO IR: a constant graph output cannot be converted")
            g.node("Identity", [args[0]], OUTPUT_NAME)
            dims: list[str | int] = ["N", *list(layer.inputs[0].dims)[1:]]
            outputs.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, dims))
        elif layer.type in _FOLDABLE and all(isinstance(a, np.ndarray) for a in args):
            values[(layer.id, out_port)] = _fold(layer, [a for a in args if isinstance(a, np.ndarray)])
        else:
            values[(layer.id, out_port)] = _EMITTERS[layer.type](g, layer, args, tensor)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelFileError(f"OpenVINO IR: expected one input and one output, found {len(inputs)} and {len(outputs)}")
    graph = helper.make_graph(g.nodes, model_id, inputs, outputs, list(g.initializers.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="school-attendance models.openvino_onnx",
                              producer_version=_CONVERTER_VERSION,
                              doc_string=f"{model_id}, converted from OpenVINO IR {ir.name!r}")
    model.ir_version = 8  # opset 17's IR version, readable by onnxruntime >= 1.13
    helper.set_model_props(model, {"model_id": model_id, **(source or {})})
    return model


def convert_openvino(xml_path: Path | str, out_path: Path | str, model_id: str,
                     bin_path: Path | str | None = None) -> str:
    """Convert the IR at ``xml_path`` (weights: ``bin_path`` or the ``.bin`` beside it) to ONNX at ``out_path``.

    Writes ``out_path`` and ``out_path.sha256`` atomically; returns the ONNX file's sha256 (hex). The bytes
    depend only on the inputs. Raises ``ModelFileError`` for unreadable or unsupported files.
    """
    xml_path = Path(xml_path)
    bin_path = Path(bin_path) if bin_path is not None else xml_path.with_suffix(".bin")
    ir = read_ir(xml_path, bin_path)
    source = {"source_xml_sha256": hashlib.sha256(xml_path.read_bytes()).hexdigest(),
              "source_bin_sha256": hashlib.sha256(ir.weights).hexdigest()}
    model = build_onnx_model(ir, model_id, source)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as err:
        raise ModelFileError(f"{xml_path}: the converted model is not valid ONNX: {err}") from err
    return save_model(model, out_path)


def _graph_input(layer: Layer) -> onnx.ValueInfoProto:
    if layer.data.get("element_type", "f32") != "f32":
        raise ModelFileError(f"OpenVINO IR: input {layer.name!r} is {layer.data.get('element_type')}, only f32 is converted")
    dims = list(parse_ints(layer.data.get("shape", ""))) or list(layer.outputs[0].dims)
    if len(dims) != 4:
        raise ModelFileError(f"OpenVINO IR: input {layer.name!r} has shape {dims}; a 4-D image batch was expected")
    return helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", *dims[1:]])


def _fold(layer: Layer, args: list[np.ndarray]) -> np.ndarray:
    """Evaluate a layer whose inputs are all constants, as OpenVINO would (float32 arithmetic)."""
    if layer.type == "Convert":
        target = layer.data.get("destination_type", "")
        if target not in _CONVERT_TO:
            raise ModelFileError(f"OpenVINO IR: Convert {layer.id} to {target!r} is not supported")
        return args[0].astype(_CONVERT_TO[target])
    if layer.type == "Reshape":
        return args[0].reshape(_reshape_target(layer, args[0].shape, args[1]))
    _check_broadcast(layer)
    a, b = (_as_float32(x) for x in args)
    return {"Add": np.add, "Multiply": np.multiply, "Subtract": np.subtract}[layer.type](a, b).astype(np.float32)


def _reshape_target(layer: Layer, shape: tuple[int, ...], target: np.ndarray) -> list[int]:
    dims = [int(d) for d in np.asarray(target).ravel()]
    if layer.data.get("special_zero", "false") == "true":
        dims = [shape[i] if d == 0 else d for i, d in enumerate(dims)]
    return dims


def _as_float32(value: np.ndarray) -> np.ndarray:
    return value.astype(np.float32) if value.dtype != np.float32 else value


def _check_broadcast(layer: Layer) -> None:
    if layer.data.get("auto_broadcast", "numpy") not in ("numpy", "none"):
        raise ModelFileError(f"OpenVINO IR: {layer.type} {layer.id} uses auto_broadcast "
                         f"{layer.data['auto_broadcast']!r}; only numpy broadcasting is converted")


def _operand(g: _Graph, layer: Layer, index: int, value: Value) -> str:
    """A tensor name for input ``index`` of ``layer``: the tensor itself, or the constant as an initializer."""
    if isinstance(value, str):
        return value
    return g.constant(f"c{layer.id}_{index}", _as_float32(value) if value.dtype.kind == "f" else value)


def _spatial(layer: Layer) -> dict[str, list[int]]:
    """ONNX ``strides`` and ``pads`` from an IR convolution or pooling layer (explicit padding only)."""
    if layer.data.get("auto_pad", "explicit") not in ("explicit", "notset"):
        raise ModelFileError(f"OpenVINO IR: {layer.type} {layer.id} uses auto_pad {layer.data['auto_pad']!r}; "
                         "only explicit padding is converted")
    pads = list(parse_ints(layer.data.get("pads_begin", "0,0"))) + list(parse_ints(layer.data.get("pads_end", "0,0")))
    return {"strides": list(parse_ints(layer.data.get("strides", "1,1"))), "pads": pads}


def _emit_conv(g: _Graph, layer: Layer, args: list[Value], out: str) -> str:
    weights = args[1]
    if not isinstance(weights, np.ndarray):
        raise ModelFileError(f"OpenVINO IR: {layer.type} {layer.id} has weights computed at run time")
    attrs = {**_spatial(layer), "dilations": list(parse_ints(layer.data.get("dilations", "1,1")))}
    if layer.type == "GroupConvolution":  # [groups, out/groups, in/groups, kh, kw] -> [out, in/groups, kh, kw]
        attrs["group"] = weights.shape[0]
        weights = weights.reshape((weights.shape[0] * weights.shape[1], *weights.shape[2:]))
    attrs["kernel_shape"] = list(weights.shape[2:])
    return g.node("Conv", [_operand(g, layer, 0, args[0]), g.constant(f"c{layer.id}_1", _as_float32(weights))],
                  out, **attrs)


def _emit_elementwise(g: _Graph, layer: Layer, args: list[Value], out: str) -> str:
    _check_broadcast(layer)
    return g.node(_ELEMENTWISE[layer.type], [_operand(g, layer, i, a) for i, a in enumerate(args)], out)


def _emit_prelu(g: _Graph, layer: Layer, args: list[Value], out: str) -> str:
    slope = args[1]
    if not isinstance(slope, np.ndarray):
        raise ModelFileError(f"OpenVINO IR: PReLU {layer.id} has a slope computed at run time")
    x = _operand(g, layer, 0, args[0])
    if slope.size == 1:  # one slope for every channel: LeakyRelu, which ONNX Runtime fuses into the Conv before it
        return g.node("LeakyRelu", [x], out, alpha=float(slope.astype(np.float32).ravel()[0]))
    rank = len(layer.inputs[0].dims)
    if slope.ndim == 1 and slope.size > 1 and rank >= 3:  # OpenVINO: a 1-D slope is per channel (axis 1)
        slope = slope.reshape((slope.size,) + (1,) * (rank - 2))
    return g.node("PRelu", [x, g.constant(f"c{layer.id}_1", _as_float32(slope))], out)


def _emit_avg_pool(g: _Graph, layer: Layer, args: list[Value], out: str) -> str:
    kernel = list(parse_ints(layer.data["kernel"]))
    spatial = _spatial(layer)
    if kernel == list(layer.inputs[0].dims[2:]) and not any(spatial["pads"]):  # the squeeze-excite blocks' pooling
        return g.node("GlobalAveragePool", [_operand(g, layer, 0, args[0])], out)
    return g.node("AveragePool", [_operand(g, layer, 0, args[0])], out, **_spatial(layer),
                  kernel_shape=list(parse_ints(layer.data["kernel"])),
                  count_include_pad=0 if layer.data.get("exclude-pad", "false") == "true" else 1,
                  ceil_mode=1 if layer.data.get("rounding_type", "floor") == "ceil" else 0)


def _emit_sigmoid(g: _Graph, layer: Layer, args: list[Value], out: str) -> str:
    return g.node("Sigmoid", [_operand(g, layer, 0, args[0])], out)


def _emit_convert(g: _Graph, layer: Layer, args: list[Value], out: str) -> str:
    if layer.data.get("destination_type") != "f32":
        raise ModelFileError(f"OpenVINO IR: Convert {layer.id} of a run-time tensor to {layer.data.get('destination_type')!r}")
    return g.node("Cast", [_operand(g, layer, 0, args[0])], out, to=TensorProto.FLOAT)


def _emit_reshape(g: _Graph, layer: Layer, args: list[Value], out: str) -> str:
    if not isinstance(args[1], np.ndarray):
        raise ModelFileError(f"OpenVINO IR: Reshape {layer.id} has a target shape computed at run time")
    allowzero = 0 if layer.data.get("special_zero", "false") == "true" else 1
    shape = g.constant(f"c{layer.id}_1", args[1].astype(np.int64).ravel())
    return g.node("Reshape", [_operand(g, layer, 0, args[0]), shape], out, allowzero=allowzero)


def _emit_fake_quantize(g: _Graph, layer: Layer, args: list[Value], out: str) -> str:
    """OpenVINO FakeQuantize: clamp to [in_low, in_high], round to ``levels`` steps, map onto [out_low, out_high]."""
    if not all(isinstance(a, np.ndarray) for a in args[1:]):
        raise ModelFileError(f"OpenVINO IR: FakeQuantize {layer.id} has ranges computed at run time")
    _check_broadcast(layer)
    in_low, in_high, out_low, out_high = (_as_float32(a) for a in args[1:] if isinstance(a, np.ndarray))
    levels = int(layer.data.get("levels", 0))
    x = _operand(g, layer, 0, args[0])
    steps = np.float32(levels - 1)
    c = lambda name, array: g.constant(f"c{layer.id}_{name}", np.asarray(array, np.float32))  # noqa: E731
    clamped = g.node("Min", [g.node("Max", [x, c("in_low", in_low)], f"{out}_max"), c("in_high", in_high)], f"{out}_min")
    shifted = g.node("Sub", [clamped, c("in_low", in_low)], f"{out}_sub")
    index = g.node("Round", [g.node("Mul", [shifted, c("to_steps", steps / (in_high - in_low))], f"{out}_steps")],
                   f"{out}_round")
    scaled = g.node("Mul", [index, c("from_steps", (out_high - out_low) / steps)], f"{out}_scaled")
    return g.node("Add", [scaled, c("out_low", out_low)], out)


_EMITTERS: dict[str, Callable[[_Graph, Layer, list[Value], str], str]] = {
    "Add": _emit_elementwise, "Multiply": _emit_elementwise, "Subtract": _emit_elementwise,
    "Convolution": _emit_conv, "GroupConvolution": _emit_conv, "PReLU": _emit_prelu, "AvgPool": _emit_avg_pool,
    "Sigmoid": _emit_sigmoid, "Convert": _emit_convert, "Reshape": _emit_reshape,
    "FakeQuantize": _emit_fake_quantize,
}


def main(argv: list[str] | None = None) -> int:
    """Run the converter from the command line; print the sha256 of the written model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xml", type=Path, help="the IR's .xml (its .bin beside it)")
    parser.add_argument("out", type=Path, help="output .onnx path")
    parser.add_argument("--model-id", default="intel_reid_0095", help="model id recorded in the ONNX metadata")
    args = parser.parse_args(argv)
    print(convert_openvino(args.xml, args.out, args.model_id))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
