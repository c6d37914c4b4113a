"""``mmpose-light-runtime serve``: the page's files, the models and
onnxruntime-web with the isolation headers, and nothing else. (The page
itself is tested in Chromium by tests/test_web.)"""
import json
import os
import os.path as osp
import threading
import urllib.error
import urllib.request

import pytest

from mmpose_light_runtime.cli import main as cli_main
from mmpose_light_runtime.serve import (ORT_FILES, ORT_WEB_CDN, WEB_DIR,
                                        find_ort_dir, make_server, write_site)


@pytest.fixture
def ort_dir(tmp_path):
    """A stand-in for onnxruntime-web's dist folder."""
    dist = tmp_path / 'node_modules' / 'onnxruntime-web' / 'dist'
    dist.mkdir(parents=True)
    for name in ORT_FILES:
        (dist / name).write_bytes(name.encode())
    return str(dist)


def get(url):
    with urllib.request.urlopen(url) as response:
        return response.headers, response.read()


def test_serves_the_page_models_and_ort(pose_model, ort_dir):
    server = make_server(pose_model, port=0, ort_dir=ort_dir, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f'http://127.0.0.1:{server.server_address[1]}/'
    try:
        headers, body = get(url)
        assert headers['Cross-Origin-Opener-Policy'] == 'same-origin'
        assert headers['Cross-Origin-Embedder-Policy'] == 'require-corp'
        assert headers['Content-Type'].startswith('text/html')
        assert b'app.js' in body
        headers, body = get(url + 'app.js')
        assert headers['Content-Type'].startswith('text/javascript')
        _, body = get(url + 'config.json')
        config = json.loads(body)
        assert config == dict(pose='models/tiny_pose.onnx', detector=None,
                              ort='ort/')
        _, body = get(url + config['pose'])
        with open(pose_model, 'rb') as f:
            assert body == f.read()
        headers, body = get(url + 'ort/ort-wasm-simd-threaded.wasm')
        assert headers['Content-Type'] == 'application/wasm'
        assert body == b'ort-wasm-simd-threaded.wasm'
        for path in ('../setup.py', 'models/../../../etc/passwd',
                     'serve.py', 'ort/package.json', 'models/other.onnx'):
            with pytest.raises(urllib.error.HTTPError) as error:
                get(url + path)
            assert error.value.code == 404, path
    finally:
        server.shutdown()
        server.server_close()


def test_without_local_ort_the_page_loads_the_pinned_cdn(pose_model,
                                                         tmp_path,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_ort_dir() is None
    files = write_site(str(tmp_path / 'site'), pose_model)
    with open(tmp_path / 'site' / 'config.json') as f:
        assert json.load(f)['ort'] == ORT_WEB_CDN
    assert '1.31.1' in ORT_WEB_CDN
    assert 'models/tiny_pose.onnx' in files
    shipped = set(os.listdir(WEB_DIR))
    assert {'index.html', 'app.js', 'estimator.js'} <= shipped
    assert shipped <= {osp.basename(f) for f in files}


def test_finds_ort_in_node_modules_above(ort_dir, tmp_path, monkeypatch):
    below = tmp_path / 'a' / 'b'
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    assert find_ort_dir() == ort_dir


@pytest.mark.parametrize('args, message', [
    (['missing.onnx'], "the pose model 'missing.onnx' does not exist"),
    (['{model}', '--det-model', 'nothing.onnx'],
     "--det-model 'nothing.onnx' does not exist"),
    (['{ncnn}'], 'is an ncnn model; the page runs ONNX files'),
    (['{model}', '--ort-dir', '{empty}'], 'lacks'),
    (['{model}', '--det-model', '{model}'], 'the same file name'),
])
def test_bad_command_lines_say_what_is_wrong(args, message, pose_model,
                                             tmp_path, capsys):
    ncnn = tmp_path / 'x.ncnn.param'
    ncnn.write_text('7767517\n')
    (tmp_path / 'empty').mkdir()
    args = [a.format(model=pose_model, ncnn=ncnn, empty=tmp_path / 'empty')
            for a in args]
    assert cli_main(['serve'] + args + ['--port', '0']) == 2
    assert message in capsys.readouterr().err
