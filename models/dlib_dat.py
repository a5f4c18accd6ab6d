"""Parse a dlib DNN ``.dat`` file (dlib/serialize.h format) into plain numpy layers, without dlib."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from models.errors import ModelFileError

# dlib's float_details marks special values with these exponents.
_EXPONENT_INF, _EXPONENT_NINF, _EXPONENT_NAN = 32000, 32001, 32002

# add_layer versions written by dlib 19.x: 2 for a layer over another layer, 3 for the innermost
# layer (the one that owns the input layer).  add_tag_layer / add_skip_layer write version 1 and
# nothing else: their tag ids are not in the file, the caller knows them from the architecture.
_ADD_LAYER_VERSION = 2
_ADD_LAYER_OVER_INPUT_VERSION = 3
_MARKER_VERSION = 1


class DatFormatError(ModelFileError):
    """The bytes are not the dlib network this parser understands."""


@dataclass
class InputSpec:
    """dlib's ``input_rgb_image_sized``: per-channel means (0..255 scale) and the chip size in pixels."""

    kind: str
    mean_rgb: tuple[float, float, float]
    rows_px: int
    cols_px: int


@dataclass
class Layer:
    """One entry of the network, innermost first: a computing layer or a tag/skip ``marker``.

    ``kind`` is one of con, affine, relu, max_pool, avg_pool, add_prev, fc, marker; ``arrays`` holds
    the float32 weights; ``ints`` holds sizes (strides, paddings, window sizes, ...).
    """

    kind: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    ints: dict[str, int] = field(default_factory=dict)


@dataclass
class DlibNet:
    """A parsed dlib network: its loss name, its input layer and its layers from input to output."""

    loss: str
    input: InputSpec
    layers: list[Layer]


class _Reader:
    """Sequential reader over dlib's serialization primitives."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n_bytes: int) -> memoryview:
        if self.pos + n_bytes > len(self.data):
            raise DatFormatError(f"unexpected end of file at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + n_bytes]
        self.pos += n_bytes
        return chunk

    def read_int(self) -> int:
        """Read dlib's varint: a control byte (0x80 = negative, low 4 bits = length), then LE bytes."""
        control = self.take(1)[0]
        n_bytes = control & 0x0F
        if n_bytes > 8 or control & 0x70:
            raise DatFormatError(f"bad integer control byte {control:#x} at byte {self.pos - 1}")
        value = int.from_bytes(self.take(n_bytes), "little")
        return -value if control & 0x80 else value

    def read_float(self) -> float:
        """Read a float_details: mantissa (int64) then exponent (int16); value = mantissa * 2**exponent."""
        mantissa = self.read_int()
        exponent = self.read_int()
        if exponent == _EXPONENT_INF:
            return float("inf")
        if exponent == _EXPONENT_NINF:
            return float("-inf")
        if exponent == _EXPONENT_NAN:
            return float("nan")
        return math.ldexp(float(mantissa), exponent)

    def read_str(self) -> str:
        return bytes(self.take(self.read_int())).decode("ascii")

    def read_bool(self) -> bool:
        char = bytes(self.take(1))
        if char not in (b"0", b"1"):
            raise DatFormatError(f"bad bool {char!r} at byte {self.pos - 1}")
        return char == b"1"

    def read_tensor(self) -> np.ndarray:
        """Read a resizable_tensor as float32 (n, k, nr, nc): v2 = raw LE float32, v1 = dlib floats."""
        version = self.read_int()
        shape = tuple(self.read_int() for _ in range(4))
        count = int(np.prod(shape))
        if version == 2:
            values = np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32)
        elif version == 1:
            values = np.array([self.read_float() for _ in range(count)], dtype=np.float32)
        else:
            raise DatFormatError(f"unknown tensor version {version}")
        return values.reshape(shape)

    def read_alias_shape(self) -> tuple[int, int, int, int]:
        version = self.read_int()
        if version != 1:
            raise DatFormatError(f"unknown alias_tensor version {version}")
        return tuple(self.read_int() for _ in range(4))  # type: ignore[return-value]


def _read_con(reader: _Reader) -> Layer:
    params = reader.read_tensor().ravel()
    names = ("num_filters", "rows", "cols", "stride_y", "stride_x", "pad_y", "pad_x")
    ints = {name: reader.read_int() for name in names}
    filters_shape = reader.read_alias_shape()
    reader.read_alias_shape()  # biases: (1, num_filters, 1, 1)
    for _ in range(4):  # learning-rate and weight-decay multipliers
        reader.read_float()
    n_weights = int(np.prod(filters_shape))
    weights = params[:n_weights].reshape(filters_shape)
    bias = params[n_weights : n_weights + filters_shape[0]]
    return Layer("con", {"weight": weights, "bias": bias}, ints)


def _read_affine(reader: _Reader) -> Layer:
    params = reader.read_tensor().ravel()
    gamma_shape = reader.read_alias_shape()
    reader.read_alias_shape()  # beta has gamma's shape
    mode = reader.read_int()  # 0 = CONV_MODE (per channel), 1 = FC_MODE (per element)
    n_gamma = int(np.prod(gamma_shape))
    arrays = {
        "gamma": params[:n_gamma].reshape(gamma_shape),
        "beta": params[n_gamma : 2 * n_gamma].reshape(gamma_shape),
    }
    return Layer("affine", arrays, {"mode": mode})


def _read_pool(reader: _Reader, kind: str) -> Layer:
    names = ("rows", "cols", "stride_y", "stride_x", "pad_y", "pad_x")
    return Layer(kind, {}, {name: reader.read_int() for name in names})


def _read_fc(reader: _Reader) -> Layer:
    num_outputs = reader.read_int()
    num_inputs = reader.read_int()
    params = reader.read_tensor().ravel()
    weights_shape = reader.read_alias_shape()
    reader.read_alias_shape()  # biases
    bias_mode = reader.read_int()  # 0 = has bias, 1 = no bias
    for _ in range(4):
        reader.read_float()
    n_weights = num_inputs * num_outputs
    arrays = {"weight": params[:n_weights].reshape(num_inputs, num_outputs)}
    if bias_mode == 0:
        arrays["bias"] = params[n_weights : n_weights + num_outputs]
    if weights_shape[:2] != (num_inputs, num_outputs):
        raise DatFormatError(f"fc weights shape {weights_shape} does not match {num_inputs}x{num_outputs}")
    return Layer("fc", arrays, {"num_inputs": num_inputs, "num_outputs": num_outputs, "has_bias": int(bias_mode == 0)})


def _read_details(reader: _Reader) -> Layer:
    name = reader.read_str()
    if name == "con_4":
        return _read_con(reader)
    if name == "affine_":
        return _read_affine(reader)
    if name in ("max_pool_2", "avg_pool_2"):
        return _read_pool(reader, name[: -len("_2")])
    if name == "fc_2":
        return _read_fc(reader)
    if name == "relu_":
        return Layer("relu")
    if name == "add_prev_":
        return Layer("add_prev")
    raise DatFormatError(f"unsupported dlib layer {name!r} (bn_ layers must be converted to affine_ first)")


def _skip_layer_state(reader: _Reader) -> None:
    """Skip add_layer's training state: 3 bools, then x_grad, cached_output and params_grad tensors."""
    for _ in range(3):
        reader.read_bool()
    for _ in range(3):
        reader.read_tensor()


def _read_input(reader: _Reader) -> InputSpec:
    kind = reader.read_str()
    if kind != "input_rgb_image_sized":
        raise DatFormatError(f"unsupported input layer {kind!r}")
    mean_rgb = (reader.read_float(), reader.read_float(), reader.read_float())
    return InputSpec(kind, mean_rgb, reader.read_int(), reader.read_int())


def parse_dlib_net(data: bytes) -> DlibNet:
    """Parse a dlib ``add_loss_layer`` network (as written by ``dlib::serialize``) from its bytes."""
    reader = _Reader(data)
    if reader.read_int() != 1:
        raise DatFormatError("not a dlib add_loss_layer (version 1) file")
    loss = reader.read_str()
    if loss == "loss_metric_2":
        reader.read_float()  # margin
        reader.read_float()  # distance threshold
    else:
        raise DatFormatError(f"unsupported loss layer {loss!r}")
    # Each wrapper writes its version, then its subnetwork, then (add_layer only) its own details:
    # so the file holds all versions outermost first, then the input, then details innermost first.
    versions: list[int] = []
    while True:
        version = reader.read_int()
        versions.append(version)
        if version == _ADD_LAYER_OVER_INPUT_VERSION:
            break
        if version not in (_ADD_LAYER_VERSION, _MARKER_VERSION):
            raise DatFormatError(f"unexpected layer version {version} at byte {reader.pos}")
    input_spec = _read_input(reader)
    layers: list[Layer] = []
    for index, version in enumerate(reversed(versions)):
        if version == _MARKER_VERSION:
            layers.append(Layer("marker"))
            continue
        layers.append(_read_details(reader))
        _skip_layer_state(reader)
        if index == 0:
            reader.read_int()  # the input add_layer's sample expansion factor
    if reader.pos != len(reader.data):
        raise DatFormatError(f"{len(reader.data) - reader.pos} trailing bytes after the network")
    return DlibNet(loss, input_spec, layers)

