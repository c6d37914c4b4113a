#!/usr/bin/env bash
# Train on a Slurm cluster (srun, MMEngine's slurm launcher):
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5) and SRUN_ARGS set the job.
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]" >&2
    exit 2
fi
exec "$(dirname "${BASH_SOURCE[0]}")/launch.sh" slurm "$1" "$2" train.py \
    "$3" --work-dir "$4" "${@:5}"
