"""ROS 2 .msg files -> cyclonedds IDL types, plus JSON <-> sample conversion.

The types are generated at runtime from the .msg text (never hand-written), so the peer
checks our Rust mirrors against the interface definitions themselves. Naming follows
rosidl_generator_dds_idl: `pkg/msg/Type` is the struct `pkg::msg::dds_::Type_`.
Constants are parsed but, as in rosidl, are not part of the struct.
"""
import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from cyclonedds.idl import make_idl_struct
from cyclonedds.idl import _builder, _machinery
from cyclonedds.idl import types as T

# Standard messages the suite touches, copied field-for-field from their ROS 2 .msg files
# (comments and constants that are irrelevant on the wire trimmed).
EMBEDDED = {
    "builtin_interfaces/msg/Time": "int32 sec\nuint32 nanosec",
    "builtin_interfaces/msg/Duration": "int32 sec\nuint32 nanosec",
    "std_msgs/msg/Header": "builtin_interfaces/Time stamp\nstring frame_id",
    "std_msgs/msg/String": "string data",
    "diagnostic_msgs/msg/KeyValue": "string key\nstring value",
    "diagnostic_msgs/msg/DiagnosticStatus": (
        "byte OK=0\nbyte WARN=1\nbyte ERROR=2\nbyte STALE=3\n"
        "byte level\nstring name\nstring message\nstring hardware_id\nKeyValue[] values"),
    "diagnostic_msgs/msg/DiagnosticArray": "std_msgs/Header header\nDiagnosticStatus[] status",
    "unique_identifier_msgs/msg/UUID": "uint8[16] uuid",
    "action_msgs/msg/GoalInfo": "unique_identifier_msgs/UUID goal_id\nbuiltin_interfaces/Time stamp",
    "action_msgs/msg/GoalStatus": (
        "int8 STATUS_UNKNOWN=0\nint8 STATUS_ACCEPTED=1\nint8 STATUS_EXECUTING=2\n"
        "int8 STATUS_CANCELING=3\nint8 STATUS_SUCCEEDED=4\nint8 STATUS_CANCELED=5\n"
        "int8 STATUS_ABORTED=6\nGoalInfo goal_info\nint8 status"),
    "action_msgs/msg/GoalStatusArray": "GoalStatus[] status_list",
    # The ROS graph: every participant publishes its nodes on the DDS topic
    # `ros_discovery_info` (Gid is char[16] since Iron; Humble used char[24]).
    "rmw_dds_common/msg/Gid": "char[16] data",
    "rmw_dds_common/msg/NodeEntitiesInfo": (
        "string<=256 node_namespace\nstring<=256 node_name\n"
        "Gid[] reader_gid_seq\nGid[] writer_gid_seq"),
    "rmw_dds_common/msg/ParticipantEntitiesInfo": "Gid gid\nNodeEntitiesInfo[] node_entities_info_seq",
    # ROS 2 audio_common: raw chunks; the sample format is on a separate AudioInfo topic.
    "audio_common_msgs/msg/AudioData": "uint8[] data",
    "audio_common_msgs/msg/AudioDataStamped": "std_msgs/Header header\nAudioData audio",
    "sensor_msgs/msg/Image": (
        "std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\n"
        "uint8 is_bigendian\nuint32 step\nuint8[] data"),
    # vision_msgs 4.x (Humble and later) detections, with the geometry_msgs they use.
    "geometry_msgs/msg/Point": "float64 x\nfloat64 y\nfloat64 z",
    "geometry_msgs/msg/Quaternion": "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1",
    "geometry_msgs/msg/Pose": "Point position\nQuaternion orientation",
    "geometry_msgs/msg/PoseWithCovariance": "Pose pose\nfloat64[36] covariance",
    "vision_msgs/msg/Point2D": "float64 x\nfloat64 y",
    "vision_msgs/msg/Pose2D": "vision_msgs/Point2D position\nfloat64 theta",
    "vision_msgs/msg/BoundingBox2D": "vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y",
    "vision_msgs/msg/ObjectHypothesis": "string class_id\nfloat64 score",
    "vision_msgs/msg/ObjectHypothesisWithPose": (
        "ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose"),
    "vision_msgs/msg/Detection2D": (
        "std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox2D bbox\n"
        "string id"),
    "vision_msgs/msg/Detection2DArray": "std_msgs/Header header\nDetection2D[] detections",
    # The ROS 2 audio_common of mgonzs13 (AudioStamped on /audio/utterance). Its AudioData
    # (typed sample arrays) clashes by name with the `uint8[] data` AudioData above, so it
    # is registered here under a name of our own: nested struct names are not on the wire.
    "audio_common_msgs/msg/AudioSampleArrays": (
        "float32[] float32_data\nint32[] int32_data\nint16[] int16_data\nint8[] int8_data\n"
        "uint8[] uint8_data"),
    "audio_common_msgs/msg/AudioInfo": "int32 format\nint32 channels\nint32 rate\nint32 chunk",
    "audio_common_msgs/msg/Audio": "AudioSampleArrays audio_data\nAudioInfo info",
    "audio_common_msgs/msg/AudioStamped": "std_msgs/Header header\nAudio audio",
}

# rosidl maps byte -> octet and char -> uint8; both are one unsigned byte on the wire.
PRIMITIVES = {
    "bool": bool, "byte": T.byte, "char": T.uint8,
    "int8": T.int8, "uint8": T.uint8, "int16": T.int16, "uint16": T.uint16,
    "int32": T.int32, "uint32": T.uint32, "int64": T.int64, "uint64": T.uint64,
    "float32": T.float32, "float64": T.float64, "string": str,
}
IDL_NAMES = {"bool": "boolean", "byte": "octet", "char": "uint8", "float32": "float",
             "float64": "double", **{p: p for p in PRIMITIVES if p[0] in "ius"}}
OCTETS = ("byte", "uint8", "char")
FLOATS = ("float32", "float64")
INTS = tuple(p for p in PRIMITIVES if p.startswith(("int", "uint")) or p in ("byte", "char"))


class _OctetSeqMachine(_machinery.PlainCdrV2SequenceOfPrimitiveMachine):
    """sequence<uint8> as Python `bytes`: one copy instead of struct-packing N ints.

    A plain `bytes` annotation would do this too, but cyclonedds cannot build the XTypes
    type object for it, so we keep `sequence[uint8]` (correct type object) and swap the
    (de)serializer only. The CDR bytes are identical.
    """

    def serialize(self, buffer, value, *args, **kwargs):
        assert self.max_length is None or len(value) <= self.max_length
        buffer.align(4)
        buffer.write("I", 4, len(value))
        buffer.write_bytes(bytes(value))

    def deserialize(self, buffer, *args, **kwargs):
        buffer.align(4)
        return buffer.read_bytes(buffer.read("I", 4))


_original_machine_for_type = _builder.Builder._machine_for_type.__func__


def _machine_for_type(cls, *args):
    machine = _original_machine_for_type(cls, *args)
    if type(machine) is _machinery.PlainCdrV2SequenceOfPrimitiveMachine and machine.code == "B":
        machine.__class__ = _OctetSeqMachine
    return machine


_builder.Builder._machine_for_type = classmethod(_machine_for_type)


@dataclass
class Field:
    name: str
    base: str                     # primitive name or "pkg/msg/Type"
    kind: str = "scalar"          # scalar | seq | array
    length: Optional[int] = None  # array length or sequence bound
    str_bound: Optional[int] = None
    default: Any = None           # .msg default value, if any


@dataclass
class MsgSpec:
    name: str
    fields: List[Field] = field(default_factory=list)
    constants: List[tuple] = field(default_factory=list)


_TYPE_RE = re.compile(r"^([A-Za-z][\w/]*?)(?:<=(\d+))?(?:\[(<=)?(\d*)\])?$")


def full_name(name: str, context_pkg: str) -> str:
    """`Type` -> `ctx/msg/Type`, `pkg/Type` -> `pkg/msg/Type`, `pkg/msg/Type` unchanged."""
    parts = name.split("/")
    if len(parts) == 1:
        return f"{context_pkg}/msg/{name}"
    if len(parts) == 2:
        return f"{parts[0]}/msg/{parts[1]}"
    return name


def parse_msg(name: str, text: str) -> MsgSpec:
    """Parse .msg text (fields, constants, defaults, arrays, bounds)."""
    pkg = name.split("/")[0]
    spec = MsgSpec(name)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        const = re.match(r"^(\S+)\s+(\w+)\s*=\s*(.*)$", line)
        if const:
            ctype, cname, value = const.groups()
            if ctype != "string":
                value = value.split("#")[0].strip()
            spec.constants.append((ctype, cname, value))
            continue
        parts = line.split("#")[0].split(None, 2)
        if len(parts) < 2:
            raise ValueError(f"{name}:{lineno}: cannot parse {raw!r}")
        m = _TYPE_RE.match(parts[0])
        if not m:
            raise ValueError(f"{name}:{lineno}: bad type {parts[0]!r}")
        base, str_bound, bounded, length = m.groups()
        if base not in PRIMITIVES:
            if base in ("wstring", "wchar"):
                raise ValueError(f"{name}:{lineno}: {base} is not supported")
            base = full_name(base, pkg)
        f = Field(parts[1], base, str_bound=int(str_bound) if str_bound else None)
        if m.group(0).endswith("]"):
            f.kind = "seq" if bounded or not length else "array"
            f.length = int(length) if length else None
        if len(parts) == 3:
            f.default = json.loads(parts[2]) if base != "string" else parts[2].strip("\"'")
        spec.fields.append(f)
    if not spec.fields:  # rosidl adds this member so the struct is valid IDL
        spec.fields.append(Field("structure_needs_at_least_one_member", "uint8"))
    return spec


class Registry:
    """Message specs (embedded + a package's msg/ dir) and the IDL types built from them."""

    def __init__(self, msg_dir: Optional[Path] = None, package: str = "vla_perf"):
        self.texts = dict(EMBEDDED)
        if msg_dir is not None:
            if not Path(msg_dir).is_dir():
                raise ValueError(f"message directory {msg_dir} does not exist")
            for path in sorted(Path(msg_dir).glob("*.msg")):
                self.texts[f"{package}/msg/{path.stem}"] = path.read_text()
        self._specs: Dict[str, MsgSpec] = {}
        self._types: Dict[str, type] = {}

    def spec(self, name: str) -> MsgSpec:
        name = full_name(name, "")
        if name not in self._specs:
            if name not in self.texts:
                raise KeyError(f"unknown message type {name} (known: {', '.join(sorted(self.texts))})")
            self._specs[name] = parse_msg(name, self.texts[name])
        return self._specs[name]

    def idl_type(self, name: str) -> type:
        """The cyclonedds IdlStruct for `name`, typename `pkg::msg::dds_::Type_`."""
        spec = self.spec(name)
        if spec.name not in self._types:
            pkg, _, tname = spec.name.split("/")
            fields = {f.name: self._field_type(f) for f in spec.fields}
            self._types[spec.name] = make_idl_struct(
                f"{tname}_", f"{pkg}::msg::dds_::{tname}_", fields)
        return self._types[spec.name]

    def _field_type(self, f: Field):
        if f.base == "string":
            elem = T.bounded_str[f.str_bound] if f.str_bound else str
        elif f.base in PRIMITIVES:
            elem = PRIMITIVES[f.base]
        else:
            elem = self.idl_type(f.base)
        if f.kind == "array":
            return T.array[elem, f.length]
        if f.kind == "seq":
            return T.sequence[elem, f.length] if f.length else T.sequence[elem]
        return elem

    def describe(self, name: str, indent: str = "") -> str:
        """IDL-like field layout, nested types expanded below their field."""
        spec = self.spec(name)
        lines = [f"{indent}struct {self.idl_type(name).__idl_typename__} {{  // {spec.name}"]
        for ctype, cname, value in spec.constants:
            lines.append(f"{indent}  // const {ctype} {cname} = {value} (not on the wire)")
        for f in spec.fields:
            elem = IDL_NAMES.get(f.base) or self.idl_type(f.base).__idl_typename__
            if f.base == "string" and f.str_bound:
                elem = f"string<{f.str_bound}>"
            if f.kind == "seq":
                elem = f"sequence<{elem}{', ' + str(f.length) if f.length else ''}>"
            suffix = f"[{f.length}]" if f.kind == "array" else ""
            lines.append(f"{indent}  {elem} {f.name}{suffix};")
            if f.base not in PRIMITIVES:
                lines.append(self.describe(f.base, indent + "    "))
        lines.append(f"{indent}}};")
        return "\n".join(lines)

    # -- JSON -> sample ------------------------------------------------------------------

    def from_json(self, name: str, obj: Optional[dict], index: int = 0):
        """Build a sample; missing fields get defaults, `{i}` in strings becomes `index`."""
        spec = self.spec(name)
        obj = obj or {}
        unknown = set(obj) - {f.name for f in spec.fields}
        if unknown:
            raise ValueError(f"{spec.name} has no field(s) {sorted(unknown)}")
        values = {}
        for f in spec.fields:
            if f.name in obj:
                values[f.name] = self._value(f, obj[f.name], index)
            else:
                values[f.name] = self._default(f, index)
        return self.idl_type(spec.name)(**values)

    def _default(self, f: Field, index: int):
        if f.kind == "seq":
            return b"" if f.base in OCTETS else []
        if f.kind == "array":
            return self._value(f, [None] * f.length, index)
        return self._scalar(f.base, f.default, index)

    def _value(self, f: Field, v, index: int):
        if f.kind == "scalar":
            return self._scalar(f.base, v, index)
        if f.base in OCTETS:  # uint8[]: list of ints or a base64 string
            data = base64.b64decode(v) if isinstance(v, str) else bytes(x or 0 for x in v)
        else:
            data = [self._scalar(f.base, x, index) for x in v]
        if f.kind == "array" and len(data) != f.length:
            raise ValueError(f"field {f.name}: need {f.length} elements, got {len(data)}")
        return data

    def _scalar(self, base: str, v, index: int):
        if base not in PRIMITIVES:
            return self.from_json(base, v, index)
        if v is None:
            return {"bool": False, "string": ""}.get(base, 0.0 if base in FLOATS else 0)
        if base == "string":
            return str(v).replace("{i}", str(index))
        if base in FLOATS:
            return float(v)  # float("nan"), float("-inf") accept the strings we print
        if base == "bool":
            return bool(v)
        return int(v)

    # -- sample -> JSON ------------------------------------------------------------------

    def to_json(self, name: str, sample, bytes_mode: str = "list") -> dict:
        """Plain JSON-safe dict: NaN/inf as "nan"/"inf"/"-inf", uint8[] per `bytes_mode`."""
        spec = self.spec(name)
        out = {}
        for f in spec.fields:
            v = getattr(sample, f.name)
            if f.kind != "scalar" and f.base in OCTETS:
                out[f.name] = encode_bytes(bytes(v), bytes_mode)
            elif f.kind != "scalar":
                out[f.name] = [self._json_scalar(f.base, x, bytes_mode) for x in v]
            else:
                out[f.name] = self._json_scalar(f.base, v, bytes_mode)
        return out

    def _json_scalar(self, base: str, v, bytes_mode: str):
        if base not in PRIMITIVES:
            return self.to_json(base, v, bytes_mode)
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return v


def encode_bytes(data: bytes, mode: str):
    """uint8[] for JSON: list of ints, base64 string, or {"len", "sha256"} summary."""
    if mode == "base64":
        return base64.b64encode(data).decode("ascii")
    if mode == "summary":
        return {"len": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return list(data)
