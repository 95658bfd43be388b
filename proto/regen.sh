#!/usr/bin/env bash
# Regenerate gateway/upstream/pb/ from proto/*.proto with the pinned grpcio-tools (see setup.cfg [dev]).
# CI runs this and fails when the committed modules differ from what it writes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../gateway/upstream/pb"
python=${PYTHON:-python}
mkdir -p "$out"
rm -f "$out"/*_pb2.py "$out"/*_pb2.pyi
"$python" -m grpc_tools.protoc -I"$here" --python_out="$out" --pyi_out="$out" "$here"/*.proto
