"""Reads an OpenVINO IR (v10/v11 ``.xml`` graph + ``.bin`` weights) into plain Python: layers, edges, constants.

Pure Python with numpy; no ``openvino`` package. Only what the converter (``models/openvino_onnx.py``) needs:
each layer's type, name, ``<data>`` attributes and ports, the edges between ports, and each ``Const``'s
array read from the ``.bin`` at its offset (f16 kept as f16 here; the converter decides what to widen).
"""

from __future__ import annotations

import heapq
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import ModelFileError

IR_VERSIONS = ("10", "11")
# OpenVINO element types and their little-endian numpy dtypes (the .bin is little-endian on every platform).
ELEMENT_TYPES: dict[str, np.dtype] = {
    "f16": np.dtype("<f2"), "f32": np.dtype("<f4"), "f64": np.dtype("<f8"),
    "i8": np.dtype("i1"), "u8": np.dtype("u1"), "i32": np.dtype("<i4"), "i64": np.dtype("<i8"),
    "boolean": np.dtype("?"),
}


@dataclass(frozen=True)
class Port:
    """One input or output port of a layer: its id and static dims (empty for a scalar)."""

    id: int
    dims: tuple[int, ...]


@dataclass(frozen=True)
class Layer:
    """One ``<layer>``: ``data`` holds its ``<data>`` attributes as strings, as the xml has them."""

    id: int
    name: str
    type: str
    version: str
    data: dict[str, str]
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]


@dataclass(frozen=True)
class Edge:
    """A connection from one layer's output port to another layer's input port."""

    from_layer: int
    from_port: int
    to_layer: int
    to_port: int


@dataclass(frozen=True)
class IrModel:
    """A parsed IR: layers in a topological order (producers first), edges, and the weights' bytes."""

    name: str
    version: str
    layers: tuple[Layer, ...]
    edges: tuple[Edge, ...]
    weights: bytes

    def sources(self, layer: Layer) -> list[tuple[int, int]]:
        """``(layer id, output port)`` feeding each input port of ``layer``, in input-port order."""
        feeding = {e.to_port: (e.from_layer, e.from_port) for e in self.edges if e.to_layer == layer.id}
        missing = [p.id for p in layer.inputs if p.id not in feeding]
        if missing:
            raise ModelFileError(f"OpenVINO IR: input port {missing[0]} of layer {layer.id} ({layer.type}) is not connected")
        return [feeding[p.id] for p in layer.inputs]

    def op_types(self) -> list[str]:
        """The distinct layer types of the graph, sorted."""
        return sorted({layer.type for layer in self.layers})

    def const_array(self, layer: Layer) -> np.ndarray:
        """The array of a ``Const`` layer, read from the weights at its offset, in its own element type."""
        element_type = layer.data.get("element_type", "")
        if element_type not in ELEMENT_TYPES:
            raise ModelFileError(f"OpenVINO IR: Const {layer.id} has element type {element_type!r}, which this reader "
                             f"does not know (known: {', '.join(ELEMENT_TYPES)})")
        dtype = ELEMENT_TYPES[element_type]
        shape = _parse_ints(layer.data.get("shape", ""))
        offset, size = int(layer.data.get("offset", -1)), int(layer.data.get("size", -1))
        count = int(np.prod(shape, dtype=np.int64))
        if offset < 0 or size != count * dtype.itemsize or offset + size > len(self.weights):
            raise ModelFileError(f"OpenVINO IR: Const {layer.id} ({layer.name}) points outside the weights file or has "
                             f"the wrong size (offset {offset}, size {size}, shape {shape}, .bin {len(self.weights)} bytes)")
        return np.frombuffer(self.weights, dtype=dtype, count=count, offset=offset).reshape(shape).copy()


def read_ir(xml_path: Path | str, bin_path: Path | str | None = None) -> IrModel:
    """Parse ``xml_path`` and its weights (default: the ``.bin`` beside it). Raises ``ModelFileError``."""
    xml_path = Path(xml_path)
    bin_path = Path(bin_path) if bin_path is not None else xml_path.with_suffix(".bin")
    try:
        xml_bytes = xml_path.read_bytes()
        weights = bin_path.read_bytes()
    except OSError as err:
        raise ModelFileError(f"cannot read OpenVINO IR {err.filename}: {err.strerror or err}") from err
    return parse_ir(xml_bytes, weights)


def parse_ir(xml_bytes: bytes, weights: bytes) -> IrModel:
    """Parse IR xml text and its weights' bytes into an ``IrModel``. Raises ``ModelFileError``."""
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as err:
        raise ModelFileError(f"OpenVINO IR: the .xml is not well-formed ({err})") from err
    if root.tag != "net" or root.get("version") not in IR_VERSIONS:
        raise ModelFileError(f"OpenVINO IR: expected <net version=\"{'|'.join(IR_VERSIONS)}\">, found "
                         f"<{root.tag} version={root.get('version')!r}>")
    layers_node, edges_node = root.find("layers"), root.find("edges")
    if layers_node is None or edges_node is None:
        raise ModelFileError("OpenVINO IR: the .xml has no <layers> or no <edges>")
    try:
        layers = [_layer(node) for node in layers_node.findall("layer")]
        edges = [Edge(int(e.get("from-layer", "")), int(e.get("from-port", "")), int(e.get("to-layer", "")),
                       int(e.get("to-port", "")))
                 for e in edges_node.findall("edge")]
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"OpenVINO IR: a layer or edge has a malformed number ({err})") from err
    return IrModel(root.get("name", ""), root.get("version", ""), _topological(layers, edges), tuple(edges), weights)


def _layer(node: ET.Element) -> Layer:
    data = node.find("data")

    def ports(tag: str) -> tuple[Port, ...]:
        group = node.find(tag)
        if group is None:
            return ()
        return tuple(Port(int(p.get("id", "")), tuple(int(d.text or "") for d in p.findall("dim")))
                     for p in group.findall("port"))

    return Layer(int(node.get("id", "")), node.get("name", ""), node.get("type", ""), node.get("version", ""),
                 dict(data.attrib) if data is not None else {}, ports("input"), ports("output"))


def _topological(layers: list[Layer], edges: list[Edge]) -> tuple[Layer, ...]:
    """Layers ordered so that every producer precedes its consumers; ties keep the file's order."""
    by_id = {layer.id: layer for layer in layers}
    if len(by_id) != len(layers):
        raise ModelFileError("OpenVINO IR: two layers share an id")
    waiting: dict[int, set[int]] = {layer.id: set() for layer in layers}
    consumers: dict[int, set[int]] = {layer.id: set() for layer in layers}
    for edge in edges:
        if edge.from_layer not in by_id or edge.to_layer not in by_id:
            raise ModelFileError(f"OpenVINO IR: an edge names a layer that does not exist ({edge})")
        waiting[edge.to_layer].add(edge.from_layer)
        consumers[edge.from_layer].add(edge.to_layer)
    position = {layer.id: index for index, layer in enumerate(layers)}
    ready = [(position[lid], lid) for lid, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered: list[Layer] = []
    while ready:
        _, lid = heapq.heappop(ready)
        ordered.append(by_id[lid])
        for consumer in consumers[lid]:
            waiting[consumer].discard(lid)
            if not waiting[consumer]:
                heapq.heappush(ready, (position[consumer], consumer))
    if len(ordered) != len(layers):
        raise ModelFileError("OpenVINO IR: the graph has a cycle")
    return tuple(ordered)


def _parse_ints(text: str) -> tuple[int, ...]:
    """``"1, 3, 128,128"`` -> ``(1, 3, 128, 128)``; an empty string is a scalar's shape ``()``."""
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)


def parse_ints(text: str) -> tuple[int, ...]:
    """The integers of an IR attribute such as ``strides="2, 2"``."""
    return _parse_ints(text)
