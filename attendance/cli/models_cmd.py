"""``attendance models list|download|verify|remove``: the optional face models, installed on purpose.

More subcommands join the group through ``SUBCOMMANDS``: each is a function ``(models_subparsers, common)``
that adds one parser and sets its ``handler`` (``convert-dlib``, ``convert-minifasnet`` and ``convert-openvino``
are added this way).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attendance import models_manager
from attendance.model_files import as_model_error
from attendance.errors import ModelError
from attendance.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("models", help="face models: list, download, verify, remove")
    models_sub = group.add_subparsers(dest="models_command", required=True, metavar="SUBCOMMAND")
    for add_subcommand in SUBCOMMANDS:
        add_subcommand(models_sub, common)


def add_list(models_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = models_sub.add_parser("list", parents=[common], help="every known model, installed or not")
    parser.set_defaults(handler=run_list)


def add_download(models_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = models_sub.add_parser(
        "download", parents=[common], help="install a model: shows its licence and training-data terms first",
        description="Download a model pinned in the manifest (checked against its sha256), or install a local "
        "copy with --path. Research-only models need --accept-terms.",
    )
    parser.add_argument("name", metavar="NAME", help="model id (see `attendance models list`)")
    parser.add_argument("--path", metavar="FILE", help="install this local file instead of downloading")
    parser.add_argument("--sha256", metavar="HASH", default="",
                        help="the file's sha256, for a model the manifest cannot pin (with --path)")
    parser.add_argument("--accept-terms", action="store_true",
                        help="accept the research-only terms of the model's weights or training data")
    parser.set_defaults(handler=run_download)


def add_verify(models_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = models_sub.add_parser("verify", parents=[common], help="check every installed model's sha256")
    parser.set_defaults(handler=run_verify)


def add_remove(models_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = models_sub.add_parser("remove", parents=[common], help="delete a downloaded or converted model")
    parser.add_argument("name", metavar="NAME", help="model id")
    parser.set_defaults(handler=run_remove)


def add_convert_dlib(models_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = models_sub.add_parser(
        "convert-dlib", parents=[common], help="convert the installed dlib ResNet to ONNX (same vectors, faster)",
        description="Read dlib_face_recognition_resnet_model_v1.dat from face-recognition-models and write the "
        "same network as <instance>/models/dlib_resnet_v1.onnx (and its .sha256). Pure Python, no download.",
    )
    parser.add_argument("--dat", metavar="FILE", help="the dlib model file (default: the installed package's)")
    parser.set_defaults(handler=run_convert_dlib)


def add_convert_minifasnet(models_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = models_sub.add_parser(
        "convert-minifasnet", parents=[common],
        help="install the MiniFASNet liveness models from their .pth files (converted to ONNX here)",
        description="Check the sha256 of Minivision's 2.7_80x80_MiniFASNetV2.pth and 4_0_0_80x80_MiniFASNetV1SE.pth "
        "in DIR against the manifest, convert them to ONNX without torch and install them (the same as "
        "`attendance models download minifasnet_v2 --path FILE.pth`). No download.",
    )
    parser.add_argument("--dir", metavar="DIR", required=True, help="folder holding both .pth files")
    parser.set_defaults(handler=run_convert_minifasnet)


def run_convert_minifasnet(args: argparse.Namespace, settings: Settings) -> int:
    entries = [e for e in models_manager.manifest_entries().values() if e.converter == "minifasnet"]
    for entry in entries:
        result = models_manager.install_model(settings, entry.id, Path(args.dir) / entry.source_file, notify=print)
        verb = "already installed" if result.already_installed else "converted and installed"
        print(f"{entry.id} {verb}: {result.path} (sha256 {result.sha256})")
    return 0


def add_convert_openvino(models_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = models_sub.add_parser(
        "convert-openvino", parents=[common], help="convert a model's OpenVINO IR to the ONNX file the engine runs",
        description="Convert the OpenVINO IR (.xml + .bin, both checked against the manifest's sha256) of model ID "
        "to <instance>/models/<file>.onnx (and its .sha256). Pure Python, no download; `attendance models download "
        "ID --path FILE.xml` does this as part of installing.",
    )
    parser.add_argument("name", metavar="ID", help="model id with install = openvino (see `attendance models list`)")
    parser.add_argument("--xml", metavar="FILE", help="the IR's .xml, its .bin beside it (default: the installed copy)")
    parser.set_defaults(handler=run_convert_openvino)


def run_convert_openvino(args: argparse.Namespace, settings: Settings) -> int:
    from attendance.models_openvino import convert_installed

    path, digest = convert_installed(settings, models_manager.get_entry(args.name), args.xml)
    print(f"wrote {path} (sha256 {digest})")
    return 0


SUBCOMMANDS = [add_list, add_download, add_verify, add_remove, add_convert_dlib, add_convert_minifasnet,
               add_convert_openvino]


def run_convert_dlib(args: argparse.Namespace, settings: Settings) -> int:
    models_manager.require_converter()
    from models.dlib_onnx import ONNX_FILENAME, convert_dlib_resnet

    out = models_manager.models_dir(settings) / ONNX_FILENAME
    with as_model_error():
        digest = convert_dlib_resnet(Path(args.dat) if args.dat else None, out)
    print(f"wrote {out} (sha256 {digest}); use it with face_backend = \"onnx\" or --backend onnx")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    in_use: set[str] = set()
    in_use.update(e.id for e in models_manager.liveness_entries(settings))
    for task in ("detector", "embedder"):
        try:
            in_use.add(models_manager.model_in_use(settings, task).id)
        except ModelError:
            pass
    print(f"{'model':24} {'task':10} {'install':9} {'state':10} {'terms':13} licence")
    for status in models_manager.list_models(settings):
        entry = status.entry
        state = "in use" if entry.id in in_use else "installed" if status.installed else "-"
        terms = "research-only" if entry.research_only else "open"
        print(f"{entry.id:24} {entry.task:10} {entry.install:9} {state:10} {terms:13} {entry.licence}")
    return 0


def run_download(args: argparse.Namespace, settings: Settings) -> int:
    bar = _ProgressLine(args.name)
    result = models_manager.install_model(
        settings, args.name, args.path, accept_terms=args.accept_terms, expected_sha256=args.sha256,
        notify=print, progress=bar,
    )
    bar.close()
    verb = "already installed" if result.already_installed else "installed"
    converted = " converted to ONNX" if result.entry.install == "openvino" else ""
    print(f"{result.entry.id} {verb}{converted}: {result.path} (sha256 {result.sha256})")
    if result.entry.task == "embedder" and result.entry.needs_accepted_terms:
        print(f"recognition_model = \"auto\" does not choose research-only models; set recognition_model = "
              f"\"{result.entry.id}\" to use it")
    return 0


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    failures = 0
    for status in models_manager.verify_models(settings):
        if not status.installed:
            continue
        if status.problem:
            failures += 1
            print(f"{status.entry.id}: BAD {status.path}: {status.problem}")
        else:
            print(f"{status.entry.id}: ok {status.path or '(inside the package)'}")
    return 1 if failures else 0


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    path = models_manager.remove_model(settings, args.name)
    print(f"removed {args.name}: {path}")
    return 0


class _ProgressLine:
    """Download progress on stderr, one line rewritten in place; silent when stderr is not a terminal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        share = f" {done * 100 // total}%" if total else ""
        print(f"\r{self.name}: {done / 1e6:.1f} MB{share}", end="", file=sys.stderr, flush=True)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)
