#!/usr/bin/env bash
# Test on a Slurm cluster (srun, MMEngine's slurm launcher):
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
# GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5) and SRUN_ARGS set the job.
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]" >&2
    exit 2
fi
exec "$(dirname "${BASH_SOURCE[0]}")/launch.sh" slurm "$1" "$2" test.py \
    "$3" "$4" "${@:5}"
