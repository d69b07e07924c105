#!/usr/bin/env python3
"""Independent CDR peer for tests/rosbags_interop.rs, built on the `rosbags` library.

Usage: rosbags_peer.py [--msg-dir DIR] [--store ROS2_HUMBLE] CASES_DIR

Reads what the Rust test wrote and answers in CASES_DIR/out/:
  cases/<name>.json   {"type": "pkg/msg/Type", "values": {...}}  expected values
  cases/<name>.cdr    the CDR bytes Rust produced for them
      -> deserialized with rosbags and compared field for field with the values;
         the values are serialized by rosbags to out/<name>.le.cdr and out/<name>.be.cdr.
  probes/<name>.json  {"type": "sensor_msgs/msg/Image", "header": {...}, "payload_len": N}
      -> a default message of that type with this header and every uint8[] field N bytes
         long, serialized to out/probes/<name>.le.cdr and .be.cdr.
  out/definitions.json  rosbags' own field and constant lists of every type involved.
  out/report.json       {"checked": N, "failures": [...]}

rosbags reads `byte` as int8, its ROS 1 meaning; ROS 2 defines it as an octet (uint8), as
the Rust mirrors do. The wire byte is the same, so byte values compare modulo 256.

JSON carries non-finite floats as the strings "NaN", "Infinity" and "-Infinity".
Exits 1 when any comparison failed, 2 on a usage or setup error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.base import Nodetype

NUMPY_TYPES = {
    "bool": np.bool_,
    "byte": np.uint8,
    "char": np.uint8,
    "octet": np.uint8,
    "uint8": np.uint8,
    "int8": np.int8,
    "uint16": np.uint16,
    "int16": np.int16,
    "uint32": np.uint32,
    "int32": np.int32,
    "uint64": np.uint64,
    "int64": np.int64,
    "float32": np.float32,
    "float64": np.float64,
}
FLOATS = {"float32", "float64"}


def load_typestore(store: str, msg_dir: Path, package: str):
    """The named rosbags store with every .msg file of msg_dir registered."""
    typestore = get_typestore(getattr(Stores, store))
    types = {}
    files = sorted(msg_dir.glob("*.msg"))
    if not files:
        raise SystemExit(f"rosbags_peer: no .msg files in {msg_dir}")
    for path in files:
        types.update(get_types_from_msg(path.read_text(), f"{package}/msg/{path.stem}"))
    typestore.register(types)
    return typestore


def type_string(desc) -> str:
    """rosbags' field description as one string, e.g. 'uint8[16]', 'pkg/msg/T[]'."""
    nodetype, detail = desc
    if nodetype == Nodetype.BASE:
        name, bound = detail
        return f"{name}<={bound}" if bound else name
    if nodetype == Nodetype.NAME:
        return detail
    inner, length = detail
    if nodetype == Nodetype.ARRAY:
        return f"{type_string(inner)}[{length}]"
    return f"{type_string(inner)}[<={length}]" if length else f"{type_string(inner)}[]"


def describe(typestore, typename: str, out: dict) -> None:
    """Adds rosbags' definition of typename and every type it uses to out."""
    if typename in out:
        return
    consts, fields = typestore.fielddefs[typename]
    out[typename] = {
        "fields": [[name, type_string(desc)] for name, desc in fields],
        "constants": [[name, ctype, value] for name, ctype, value in consts],
    }
    for _, desc in fields:
        nodetype, detail = desc
        if nodetype in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            nodetype, detail = detail[0]
        if nodetype == Nodetype.NAME:
            describe(typestore, detail, out)


def to_float(value) -> float:
    return float(value)  # float() reads "NaN", "Infinity" and "-Infinity" as well


def same_float(actual, expected) -> bool:
    actual, expected = float(actual), to_float(expected)
    if math.isnan(expected):
        return math.isnan(actual)
    return actual == expected and math.copysign(1.0, actual) == math.copysign(1.0, expected)


def compare(typestore, desc, actual, expected, path: str, failures: list) -> None:
    """Appends a line to failures for every difference between actual and expected."""
    nodetype, detail = desc
    if nodetype == Nodetype.BASE:
        base = detail[0]
        if base in FLOATS:
            ok = same_float(actual, expected)
        elif base == "bool":
            ok = isinstance(expected, bool) and bool(actual) == expected
        elif base in ("string", "wstring"):
            ok = isinstance(actual, str) and actual == expected
        elif base == "byte":
            ok = isinstance(expected, int) and int(actual) & 0xFF == expected
        else:
            ok = isinstance(expected, int) and int(actual) == expected
        if not ok:
            failures.append(f"{path}: rosbags read {actual!r}, expected {expected!r}")
    elif nodetype == Nodetype.NAME:
        compare_message(typestore, detail, actual, expected, path, failures)
    else:
        inner, length = detail
        if nodetype == Nodetype.ARRAY and len(expected) != length:
            failures.append(f"{path}: expected values hold {len(expected)} items, type {length}")
        if len(actual) != len(expected):
            failures.append(f"{path}: rosbags read {len(actual)} items, expected {len(expected)}")
            return
        for i, (a, e) in enumerate(zip(actual, expected)):
            compare(typestore, inner, a, e, f"{path}[{i}]", failures)


def compare_message(typestore, typename, actual, expected, path, failures) -> None:
    _, fields = typestore.fielddefs[typename]
    names = [name for name, _ in fields]
    if not isinstance(expected, dict) or sorted(expected) != sorted(names):
        failures.append(f"{path}: expected values {expected!r} do not match {typename}'s fields {names}")
        return
    for name, desc in fields:
        compare(typestore, desc, getattr(actual, name), expected[name], f"{path}.{name}", failures)


def build(typestore, desc, value):
    """The rosbags value of a field from its JSON value."""
    nodetype, detail = desc
    if nodetype == Nodetype.BASE:
        base = detail[0]
        if base in FLOATS:
            return to_float(value)
        if base == "byte" and value > 127:
            return value - 256
        return value
    if nodetype == Nodetype.NAME:
        return build_message(typestore, detail, value)
    inner, _ = detail
    if inner[0] == Nodetype.BASE and inner[1][0] in NUMPY_TYPES:
        base = inner[1][0]
        items = [to_float(v) for v in value] if base in FLOATS else value
        return np.array(items, dtype=NUMPY_TYPES[base])
    return [build(typestore, inner, v) for v in value]


def build_message(typestore, typename, values):
    _, fields = typestore.fielddefs[typename]
    kwargs = {name: build(typestore, desc, values[name]) for name, desc in fields}
    return typestore.types[typename](**kwargs)


def default_value(typestore, desc, payload_len: int):
    """A zero value of a field; uint8 sequences get payload_len bytes."""
    nodetype, detail = desc
    if nodetype == Nodetype.BASE:
        base = detail[0]
        if base in ("string", "wstring"):
            return ""
        if base in FLOATS:
            return 0.0
        return False if base == "bool" else 0
    if nodetype == Nodetype.NAME:
        _, fields = typestore.fielddefs[detail]
        return typestore.types[detail](
            **{name: default_value(typestore, d, payload_len) for name, d in fields}
        )
    inner, length = detail
    count = length if nodetype == Nodetype.ARRAY else 0
    if inner[0] == Nodetype.BASE and inner[1][0] in NUMPY_TYPES:
        if nodetype == Nodetype.SEQUENCE and inner[1][0] == "uint8":
            count = payload_len
        return np.zeros(count, dtype=NUMPY_TYPES[inner[1][0]])
    return [default_value(typestore, inner, payload_len) for _ in range(count)]


def run(cases_dir: Path, typestore) -> dict:
    out_dir = cases_dir / "out"
    (out_dir / "probes").mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    definitions: dict = {}
    checked = 0
    for case in sorted((cases_dir / "cases").glob("*.json")):
        name = case.stem
        spec = json.loads(case.read_text())
        typename, values = spec["type"], spec["values"]
        if typename not in typestore.fielddefs:
            failures.append(f"{name}: rosbags does not know {typename}")
            continue
        describe(typestore, typename, definitions)
        rust_bytes = case.with_suffix(".cdr").read_bytes()
        try:
            decoded = typestore.deserialize_cdr(rust_bytes, typename)
        except Exception as err:  # noqa: BLE001 - any rosbags failure is a finding
            failures.append(f"{name}: rosbags cannot deserialize Rust's bytes: {err!r}")
        else:
            compare_message(typestore, typename, decoded, values, name, failures)
        try:
            message = build_message(typestore, typename, values)
            for suffix, little in (("le", True), ("be", False)):
                data = typestore.serialize_cdr(message, typename, little_endian=little)
                (out_dir / f"{name}.{suffix}.cdr").write_bytes(bytes(data))
        except Exception as err:  # noqa: BLE001
            failures.append(f"{name}: rosbags cannot serialize the values: {err!r}")
        checked += 1
    for probe in sorted((cases_dir / "probes").glob("*.json")):
        spec = json.loads(probe.read_text())
        typename = spec["type"]
        message = default_value(typestore, (Nodetype.NAME, typename), spec["payload_len"])
        if typestore.fielddefs[typename][1][0][0] != "header":
            failures.append(f"{probe.stem}: {typename} does not start with a header")
            continue
        message.header = build_message(typestore, "std_msgs/msg/Header", spec["header"])
        for suffix, little in (("le", True), ("be", False)):
            data = typestore.serialize_cdr(message, typename, little_endian=little)
            (out_dir / "probes" / f"{probe.stem}.{suffix}.cdr").write_bytes(bytes(data))
        checked += 1
    (out_dir / "definitions.json").write_text(json.dumps(definitions, indent=1, sort_keys=True))
    report = {"checked": checked, "failures": failures}
    (out_dir / "report.json").write_text(json.dumps(report, indent=1))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases_dir", type=Path)
    parser.add_argument("--msg-dir", type=Path, default=Path(__file__).resolve().parents[2] / "msg")
    parser.add_argument("--package", default="vla_perf")
    parser.add_argument("--store", default="ROS2_HUMBLE")
    args = parser.parse_args()
    if not (args.cases_dir / "cases").is_dir():
        print(f"rosbags_peer: {args.cases_dir}/cases is not a directory", file=sys.stderr)
        return 2
    typestore = load_typestore(args.store, args.msg_dir, args.package)
    report = run(args.cases_dir, typestore)
    for line in report["failures"]:
        print(f"FAIL {line}", file=sys.stderr)
    print(f"rosbags_peer: {report['checked']} checked, {len(report['failures'])} failed")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
