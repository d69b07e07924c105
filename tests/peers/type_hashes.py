#!/usr/bin/env python3
"""Prints, as one JSON object {type_name: "RIHS01_..."}, the REP-2011 type hashes ROS 2's
own generator computes for a package's .msg files: rosidl_adapter turns each into IDL and
rosidl_generator_type_description.generate_type_hash hashes them, exactly as a colcon
build of the package does, resolving the types of other packages from the .json files
installed under the ROS 2 prefixes (AMENT_PREFIX_PATH).

Usage (with ROS 2 sourced): type_hashes.py PACKAGE_DIR PACKAGE_NAME
  PACKAGE_DIR holds msg/*.msg. Diagnostics go to stderr.
"""

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

from rosidl_adapter.msg import convert_msg_to_idl
from rosidl_generator_type_description import generate_type_hash


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    package_dir = Path(sys.argv[1]).resolve()
    package = sys.argv[2]
    msgs = sorted((package_dir / 'msg').glob('*.msg'))
    if not msgs:
        print(f'no msg/*.msg under {package_dir}', file=sys.stderr)
        return 1
    # Every installed package with interfaces, as `pkg:share/pkg`.
    include_paths = []
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        share = Path(prefix) / 'share'
        if share.is_dir():
            include_paths += [
                f'{p.name}:{p}' for p in sorted(share.iterdir())
                if (p / 'msg').is_dir() or (p / 'srv').is_dir()
            ]
    with tempfile.TemporaryDirectory() as tmp:
        idl_root = Path(tmp) / 'idl'
        out = Path(tmp) / 'out'
        (idl_root / 'msg').mkdir(parents=True)
        out.mkdir()
        # The adapter reports every file it converts on stdout.
        with contextlib.redirect_stdout(sys.stderr):
            for msg in msgs:
                convert_msg_to_idl(
                    package_dir, package, msg.relative_to(package_dir), idl_root / 'msg')
        arguments = Path(tmp) / 'arguments.json'
        arguments.write_text(json.dumps({
            'package_name': package,
            'output_dir': str(out),
            'idl_tuples': [f'{idl_root}:msg/{m.stem}.idl' for m in msgs],
            'include_paths': include_paths,
        }))
        hashes = {}
        for path in generate_type_hash(str(arguments)):
            content = json.loads(Path(path).read_text())
            top = content['type_description_msg']['type_description']['type_name']
            hashes[top] = next(
                h['hash_string'] for h in content['type_hashes'] if h['type_name'] == top)
    print(json.dumps(hashes, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
