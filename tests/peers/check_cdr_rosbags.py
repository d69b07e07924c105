#!/usr/bin/env python3
"""Cross-check: our generated cyclonedds types serialize byte-for-byte like `rosbags`.

    python3 tests/peers/check_cdr_rosbags.py     # needs: pip install rosbags

rosbags has its own .msg parser, its own ROS 2 standard message definitions and its own
CDR serializer, so agreement on every type (default sample and a sample with every field
set) shows that field order, alignment and type mapping in rosmsg.py are right.
No network involved.
"""
import sys
from pathlib import Path

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from rosmsg import OCTETS, PRIMITIVES, Registry
from selftest_peer import rich_template

MSG_DIR = Path(__file__).resolve().parents[2] / "msg"
NUMPY = {"bool": np.bool_, "int8": np.int8, "uint8": np.uint8, "int16": np.int16,
         "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
         "uint64": np.uint64, "float32": np.float32, "float64": np.float64}


def to_rosbags(store, registry, name, sample):
    """Our sample -> the equivalent rosbags dataclass (arrays of primitives as numpy)."""
    values = {}
    for f in registry.spec(name).fields:
        v = getattr(sample, f.name)
        if f.kind != "scalar":
            if f.base in OCTETS:
                v = np.frombuffer(bytes(v), dtype=np.uint8)
            elif f.base in NUMPY:
                v = np.array(v, dtype=NUMPY[f.base])
            elif f.base not in PRIMITIVES:
                v = [to_rosbags(store, registry, f.base, x) for x in v]
            else:
                v = list(v)
        elif f.base not in PRIMITIVES:
            v = to_rosbags(store, registry, f.base, v)
        values[f.name] = v
    return store.types[name](**values)


def main():
    registry = Registry(MSG_DIR)
    store = get_typestore(Stores.ROS2_HUMBLE)
    own = {}
    for path in sorted(MSG_DIR.glob("*.msg")):
        own.update(get_types_from_msg(path.read_text(), f"vla_perf/msg/{path.stem}"))
    # Types the Humble typestore lacks (vision_msgs, audio_common) come from our texts.
    extra = {}
    for name, text in registry.texts.items():
        if name not in store.types:
            extra.update(get_types_from_msg(text, name))
    store.register({**own, **extra})
    failures = 0
    for name in sorted(registry.texts):
        for label, template in (("default", {}), ("rich", rich_template(registry, name))):
            sample = registry.from_json(name, template, 5)
            ours = sample.serialize(use_version_2=False)
            theirs = bytes(store.serialize_cdr(to_rosbags(store, registry, name, sample), name))
            back = registry.to_json(name, registry.idl_type(name).deserialize(theirs))
            if ours != theirs or back != registry.to_json(name, sample):
                failures += 1
                print(f"MISMATCH {name} ({label})\n  ours   {ours.hex()}\n  rosbags {theirs.hex()}")
    total = 2 * len(registry.texts)
    print(f"{total - failures}/{total} samples identical to rosbags CDR")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
