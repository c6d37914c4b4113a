#!/usr/bin/env bash
# Test with several processes on one machine (torchrun, MMEngine's pytorch
# launcher; on a machine without CUDA they run together on CPU over gloo):
#   tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options]
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NPROC [test.py options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
exec "$(dirname "${BASH_SOURCE[0]}")/launch.sh" pytorch "$NPROC" test.py \
    "$CONFIG" "$CHECKPOINT" "$@"
