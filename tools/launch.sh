#!/usr/bin/env bash
# What dist_{train,test}.sh and slurm_{train,test}.sh share: start one of
# the Python tools beside this script in several processes.
#   launch.sh pytorch NPROC TOOL [args]          torchrun on this machine
#   launch.sh slurm PARTITION JOB_NAME TOOL [args]   srun on a Slurm cluster
# pytorch: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500).
# slurm: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS.
# PYTHON picks the interpreter (python).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python}
case "$1" in
pytorch)
    NPROC=$2
    TOOL=$3
    shift 3
    exec "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --master_port="${PORT:-29500}" --nproc_per_node="$NPROC" \
        "$HERE/$TOOL" "$@" --launcher pytorch
    ;;
slurm)
    PARTITION=$2
    JOB_NAME=$3
    TOOL=$4
    shift 4
    GPUS_PER_NODE=${GPUS_PER_NODE:-8}
    # SRUN_ARGS is a list of options: split on spaces on purpose
    # shellcheck disable=SC2086
    exec srun -p "$PARTITION" --job-name="$JOB_NAME" \
        --gres=gpu:"$GPUS_PER_NODE" --ntasks="${GPUS:-8}" \
        --ntasks-per-node="$GPUS_PER_NODE" \
        --cpus-per-task="${CPUS_PER_TASK:-5}" --kill-on-bad-exit=1 \
        ${SRUN_ARGS:-} "$PYTHON" -u "$HERE/$TOOL" "$@" --launcher slurm
    ;;
*)
    echo "$0: the launcher is pytorch or slurm, not '$1'" >&2
    exit 2
    ;;
esac
