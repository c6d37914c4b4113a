#!/usr/bin/env bash
# The main job on the bundled COCO sample, with MMPose's runner:
#   1. train MobilePoseNet and RepNet-A for a short, seeded schedule from
#      random weights, with box jitter as real training (tools/train.py),
#   2. evaluate each with CocoMetric (tools/test.py) as COCO's protocol does,
#      on the sample's person detections, and on the ground-truth boxes,
#   3. re-parameterize RepNet-A and evaluate the deployed model,
#   4. export MobilePoseNet and the deployed RepNet-A to ONNX, each checked
#      against PyTorch,
#   5. draw the predicted skeletons on a sample image with Matrix-OKS-NMS
#      over its redundant detections, and write them as COCO results JSON:
#      PyTorch through tools/demo.py, ONNX through the torch-free runtime's
#      command (python -m mmpose_light_runtime).
# Outputs go to $OUT (default work_dirs/demo). Training runs on one thread
# (OMP_NUM_THREADS, default 1): the seeded results depend on the thread
# count, and on two shared cores one thread is also the faster.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python}
OUT=${OUT:-work_dirs/demo}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
IMG=data/sample/coco/000000196141.jpg
DETS=data/sample/coco/test_coco_det_AP_H_56.json
HM=configs/body_2d_keypoint/topdown_heatmap/coco
REG=configs/body_2d_keypoint/topdown_regression/coco
MPN_CFG=$HM/td-hm_mobilenetv3-lpb_1xb14-200e_coco-sample-128x96.py
REP_CFG=$REG/td-reg_repvgg-a-fusion_rle-1xb8-200e_coco-sample-128x96.py
REP_DEPLOY_CFG=$REG/td-reg_repvgg-a-fusion-deploy_rle-1xb8-200e_coco-sample-128x96.py

say() { printf '\n[demo %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
ap() { grep -o 'coco/AP: [0-9.]*' "$1" | tail -1; }
# the sample configs test on the detections; this tests on the annotated boxes
GT_BOXES=(--cfg-options test_dataloader.dataset.bbox_file=None)

mkdir -p "$OUT"
start=$SECONDS

say "1/5 training MobilePoseNet on the COCO sample"
"$PY" tools/train.py "$MPN_CFG" --work-dir "$OUT/mobileposenet"
MPN_CKPT=$(cat "$OUT/mobileposenet/last_checkpoint")

say "1/5 training RepNet-A on the COCO sample"
"$PY" tools/train.py "$REP_CFG" --work-dir "$OUT/repnet-a"
REP_CKPT=$(cat "$OUT/repnet-a/last_checkpoint")

say "2/5 evaluating with CocoMetric (detected boxes, then ground-truth boxes)"
"$PY" tools/test.py "$MPN_CFG" "$MPN_CKPT" \
    --work-dir "$OUT/mobileposenet/test" 2>&1 | tee "$OUT/mobileposenet.test.log"
"$PY" tools/test.py "$MPN_CFG" "$MPN_CKPT" "${GT_BOXES[@]}" \
    --work-dir "$OUT/mobileposenet/test-gt" 2>&1 \
    | tee "$OUT/mobileposenet.test-gt.log"
"$PY" tools/test.py "$REP_CFG" "$REP_CKPT" \
    --work-dir "$OUT/repnet-a/test" 2>&1 | tee "$OUT/repnet-a.test.log"
"$PY" tools/test.py "$REP_CFG" "$REP_CKPT" "${GT_BOXES[@]}" \
    --work-dir "$OUT/repnet-a/test-gt" 2>&1 | tee "$OUT/repnet-a.test-gt.log"

say "3/5 re-parameterizing RepNet-A and evaluating the deployed model"
"$PY" tools/reparameterize.py "$REP_CFG" "$REP_CKPT" "$OUT/repnet-a/deploy.pth"
"$PY" tools/test.py "$REP_DEPLOY_CFG" "$OUT/repnet-a/deploy.pth" \
    --work-dir "$OUT/repnet-a/test-deploy" 2>&1 \
    | tee "$OUT/repnet-a-deploy.test.log"

say "4/5 exporting MobilePoseNet and the deployed RepNet-A to ONNX"
"$PY" tools/export_onnx.py "$MPN_CFG" "$MPN_CKPT" "$OUT/mobileposenet.onnx"
"$PY" tools/export_onnx.py "$REP_DEPLOY_CFG" "$OUT/repnet-a/deploy.pth" \
    "$OUT/repnet-a.onnx"

say "5/5 drawing skeletons (Matrix-OKS-NMS over the sample's detections)"
draw() {  # name, then the command's model arguments
    local name=$1
    shift
    "$@" --img "$IMG" --det-file "$DETS" --out "$OUT/$name.jpg" \
        --json "$OUT/$name.json"
}
draw mobileposenet_pose "$PY" tools/demo.py "$MPN_CFG" "$MPN_CKPT"
draw mobileposenet_onnx_pose "$PY" -m mmpose_light_runtime \
    "$OUT/mobileposenet.onnx"
draw repnet-a_pose "$PY" tools/demo.py "$REP_DEPLOY_CFG" \
    "$OUT/repnet-a/deploy.pth"
draw repnet-a_onnx_pose "$PY" -m mmpose_light_runtime "$OUT/repnet-a.onnx"

say "done in $((SECONDS - start))s"
echo "COCO AP on the sample    detected boxes   ground-truth boxes"
echo "MobilePoseNet            $(ap "$OUT/mobileposenet.test.log")" \
    "  $(ap "$OUT/mobileposenet.test-gt.log")"
echo "RepNet-A                 $(ap "$OUT/repnet-a.test.log")" \
    "  $(ap "$OUT/repnet-a.test-gt.log")"
echo "RepNet-A (deployed)      $(ap "$OUT/repnet-a-deploy.test.log")"
echo "pictures: $OUT/"{mobileposenet,mobileposenet_onnx,repnet-a,repnet-a_onnx}_pose.jpg
