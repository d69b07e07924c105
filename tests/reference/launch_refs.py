#!/usr/bin/env python3
"""What the vla_perf launch files reference, read with Python's own parsers.

This reads the files without ROS, the way a reviewer would (tests/ros2_core.rs runs them
with `ros2 launch` on a ROS 2 machine): the Python launch file with `ast` (it must parse; nothing is imported or run) and the
XML one with `xml.etree`. Prints one JSON object:

    {"py": {...}, "xml": {...}, "cargo_bins": [...]}

where each launch file gives "arguments" (name -> {"default": text, "share_path": path
inside share/vla_perf or null}) and "nodes" ([{"package", "executable", "parameters",
"conditional"}]); "cargo_bins" are the [[bin]] names of Cargo.toml (tomllib).

Usage: launch_refs.py LAUNCH.py LAUNCH.xml Cargo.toml
"""

import ast
import json
import sys
import tomllib
import xml.etree.ElementTree as ET

SHARE = "$(find-pkg-share vla_perf)/"


def call_name(node):
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def constant(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def share_path(node):
    """`PathJoinSubstitution([FindPackageShare(...) or share, "config", "x.yaml"])`."""
    if isinstance(node, ast.Call) and call_name(node) == "PathJoinSubstitution":
        parts = node.args[0].elts if node.args and isinstance(node.args[0], ast.List) else []
        texts = [constant(p) for p in parts[1:]]
        if texts and all(t is not None for t in texts):
            return "/".join(texts)
    return None


def read_py(path):
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    arguments, nodes = {}, []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        name = call_name(node)
        if name == "DeclareLaunchArgument":
            default = keywords.get("default_value")
            arguments[constant(node.args[0])] = {
                "default": constant(default) if default is not None else None,
                "share_path": share_path(default) if default is not None else None,
            }
        elif name == "Node":
            params = []
            for group in getattr(keywords.get("parameters"), "elts", []):
                if isinstance(group, ast.Dict):
                    params += [constant(k) for k in group.keys]
            nodes.append({
                "package": constant(keywords.get("package")),
                "executable": constant(keywords.get("executable")),
                "parameters": params,
                "conditional": "condition" in keywords,
            })
    return {"arguments": arguments, "nodes": nodes}


def read_xml(path):
    root = ET.parse(path).getroot()
    assert root.tag == "launch", f"{path}: root element is <{root.tag}>, not <launch>"
    arguments, nodes = {}, []
    for arg in root.iter("arg"):
        default = arg.get("default")
        arguments[arg.get("name")] = {
            "default": default,
            "share_path": default[len(SHARE):] if default and default.startswith(SHARE) else None,
        }
    for node in root.iter("node"):
        nodes.append({
            "package": node.get("pkg"),
            "executable": node.get("exec"),
            "parameters": [p.get("name") for p in node.iter("param")],
            "conditional": node.get("if") is not None or node.get("unless") is not None,
        })
    return {"arguments": arguments, "nodes": nodes}


def main():
    py, xml, cargo = sys.argv[1:4]
    with open(cargo, "rb") as f:
        bins = [b["name"] for b in tomllib.load(f).get("bin", [])]
    print(json.dumps({"py": read_py(py), "xml": read_xml(xml), "cargo_bins": bins}))


if __name__ == "__main__":
    main()
