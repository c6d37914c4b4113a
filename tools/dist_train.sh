#!/usr/bin/env bash
# Train with several processes on one machine (torchrun, MMEngine's pytorch
# launcher; on a machine without CUDA they train together on CPU over gloo):
#   tools/dist_train.sh CONFIG NPROC [train.py options]
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NPROC [train.py options]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
exec "$(dirname "${BASH_SOURCE[0]}")/launch.sh" pytorch "$NPROC" train.py \
    "$CONFIG" "$@"
