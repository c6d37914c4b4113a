"""Settings shared by the browser tests and their fixtures (the models,
inputs and page driver are in ``benchlib.web``, which the benchmark
shares)."""
import os
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Where the browser tests keep their screenshots.
ARTIFACTS = os.environ.get('MMPOSE_LIGHT_ARTIFACTS',
                           osp.join(ROOT, 'web', 'test-results'))
#: The models the page is compared on, one per codec the page decodes:
#: MobilePoseNet and RepNet-A trained on the COCO sample (two minutes each:
#: a random network's flat outputs put keypoints on near-ties that two
#: engines' rounding orders either way, and a random regression head puts
#: them far outside the crop), and RTMPose-t with random weights (no
#: training config on the sample; its ties are told apart by the tests).
_CONFIGS = osp.join(ROOT, 'configs', 'body_2d_keypoint')
TRAINED = {
    'heatmap': osp.join(_CONFIGS, 'topdown_heatmap', 'coco',
                        'td-hm_mobilenetv3-lpb_1xb14-200e_coco-sample-'
                        '128x96.py'),
    'rle': osp.join(_CONFIGS, 'topdown_regression', 'coco',
                    'td-reg_repvgg-a-fusion_rle-1xb8-200e_coco-sample-'
                    '128x96.py'),
}
RANDOM = {'simcc': 'RTMPose-t'}
POSE_MODELS = ('heatmap', 'simcc', 'rle')


def require_web() -> None:
    """Skip (or fail, with MMPOSE_LIGHT_REQUIRE_WEB=1) without the tools."""
    from benchlib.web import missing_tools
    missing = missing_tools()
    if not missing:
        return
    message = ('the browser tests need ' + ', '.join(missing) +
               ' (tools/setup_web_env.sh installs them)')
    if os.environ.get('MMPOSE_LIGHT_REQUIRE_WEB') == '1':
        pytest.fail(message)
    pytest.skip(message)
