"""MobilePoseNet's LPBs in deploy form against their training form.

Usage::

    python tools/benchmarks/lpb_upsample.py
        [--model MobilePoseNet-256x192-train] [--rounds 40] [--threads 1]
        [--no-int8]

The training form of an LPB upsamples with a depthwise 4x4 stride-2
transposed convolution, which ONNX Runtime and OpenVINO run one channel at
a time. Its deploy form (:class:`mmpose_light.models.layers.LPB` after
``switch_to_deploy``, what ``tools/export_onnx.py`` writes) computes the
four output phases with depthwise convolutions at the input resolution and
interleaves them once per LPB. This tool builds the model (random weights,
BatchNorm statistics from a forward pass), exports both forms (the training
form as it is, for this comparison only), quantizes both to INT8 as
``tools/quantize.py`` does (calibration: the MPII sample's frames), and
times every engine on both forms at batch 1, interleaved in one run. The
forms' heatmaps must agree (the relative error is printed).
"""
import os.path as osp
import sys
import tempfile
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import mmpose_light  # noqa: E402,F401
from benchlib import (MODELS_TABLE,  # noqa: E402
                      SAMPLE_DIR, available_engines,
                      build_model,
                      compare_latency, export_model,
                      openvino_model, ort_call, ort_session,
                      print_table)
from benchlib.timing import timing_parser  # noqa: E402
from mmpose_light.models.utils import reparameterize_model  # noqa: E402
from mmpose_light_runtime.timing import format_cpu_info  # noqa: E402

MODEL = 'MobilePoseNet-256x192-train'
FORMS = ('training', 'deploy')


def export_forms(model, hw: Tuple[int, int],
                 folder: str) -> Dict[str, str]:
    """Export ``model`` (training form) in both forms.

    The deploy form is what :func:`~mmpose_light.deploy.export_onnx`
    writes. The training form is exported by ``torch.onnx`` directly, with
    the deploy file's metadata so that the runtime and the quantizer take
    it; ``export_onnx`` itself never writes training-form modules.

    Returns:
        dict[str, str]: Form to ONNX file.
    """
    import onnx
    import torch

    files = {form: osp.join(folder, f'{form}.onnx') for form in FORMS}
    export_model(model, hw, files['deploy'])

    class Network(torch.nn.Module):
        """``model._forward`` of the training form, as it is."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model._forward(x)

    deploy = onnx.load(files['deploy'])
    output = deploy.graph.output[0].name
    with torch.no_grad():
        torch.onnx.export(
            Network().eval(), (torch.zeros(1, 3, *hw), ),
            files['training'],
            input_names=['input'],
            output_names=[output],
            opset_version=17,
            dynamic_axes={name: {0: 'batch'} for name in ('input', output)},
            dynamo=False)
    training = onnx.load(files['training'])
    training.metadata_props.extend(deploy.metadata_props)
    onnx.save(training, files['training'])
    return files


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = timing_parser(__doc__.split('\n')[0], rounds=40)
    parser.add_argument('--model', default=MODEL,
                        choices=[name for name, spec in MODELS_TABLE.items()
                                 if name.startswith('MobilePoseNet')
                                 and spec.form == 'train'],
                        help='a training-form MobilePoseNet of the model '
                        f'table (default: {MODEL})')
    parser.add_argument('--no-int8', action='store_true',
                        help='skip the INT8 models')
    args = parser.parse_args(argv)
    print(format_cpu_info(threads=args.threads))
    model, hw = build_model(args.model, calibrate=True)
    deployed = reparameterize_model(model)
    engines = [e for e in available_engines()
               if not (args.no_int8 and e.endswith('int8'))]
    x = np.random.default_rng(0).normal(size=(1, 3, *hw)).astype(np.float32)
    batch = np.random.default_rng(1).normal(size=(2, 3, *hw))
    batch = batch.astype(np.float32)
    calls, heatmaps = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        files = {('ort', form): path
                 for form, path in export_forms(model, hw, folder).items()}
        if 'ort_int8' in engines:
            from mmpose_light_runtime.quantize import quantize_model
            for form in FORMS:
                path = osp.join(folder, f'{form}_int8.onnx')
                quantize_model(files['ort', form], path,
                               osp.join(SAMPLE_DIR, 'mpii'))
                files['ort_int8', form] = path
        for (engine, form), path in list(files.items()):
            session = ort_session(path, args.threads)
            if engine == 'ort':
                heatmaps[form] = session.run(None, {'input': batch})[0]
            calls[engine, form] = ort_call(session, x)
            ov_engine = engine.replace('ort', 'ov')
            if ov_engine in engines:
                calls[ov_engine, form] = (
                    lambda b=openvino_model(path, args.threads): b.run(x))
        import torch
        tensor = torch.from_numpy(x)
        for form, net in zip(FORMS, (model, deployed)):
            calls['torch', form] = lambda n=net: n._forward(tensor)
        times = compare_latency(
            {f'{e}/{f}': call for (e, f), call in calls.items()},
            rounds=args.rounds,
            threads=args.threads)
    ref = heatmaps['training']
    err = np.abs(heatmaps['deploy'] - ref).max() / np.abs(ref).max()
    names = {
        'torch': 'PyTorch eager',
        'ort': 'ONNX Runtime',
        'ort_int8': 'ONNX Runtime INT8',
        'ov': 'OpenVINO',
        'ov_int8': 'OpenVINO INT8'
    }
    train_ort = times['ort/training']
    rows = []
    for engine in names:
        if f'{engine}/training' not in times:
            continue
        train, deploy = (times[f'{engine}/{f}'] for f in FORMS)
        rows.append((names[engine], f'{train:.2f}', f'{deploy:.2f}',
                     f'{train / deploy:.2f}', f'{train_ort / deploy:.2f}'))
    print(f'\n{args.model}, batch 1, {args.threads} thread(s), median ms '
          f'of {args.rounds} interleaved rounds (this run only)')
    print_table(('engine', 'training form ms', 'deploy form ms', 'x',
                 'x ORT training'), rows)
    print('x: training-form ms / deploy-form ms of the engine; x ORT '
          'training: ONNX Runtime float training-form ms / deploy-form ms. '
          f'Deploy-form heatmaps against the training form\'s: relative '
          f'error {err:.1e} (max |difference| / max |heatmap|). INT8 '
          'accuracy: tools/quantize.py on a trained model.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
