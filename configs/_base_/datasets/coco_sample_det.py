# Test on the bundled sample's person detections (118 boxes, several per
# person), which exercise pose NMS; add after coco_sample.py.
sample_root = '{{fileDirname}}/../../../data/sample/coco/'

val_dataloader = dict(
    dataset=dict(bbox_file=sample_root + 'test_coco_det_AP_H_56.json'))
test_dataloader = val_dataloader
