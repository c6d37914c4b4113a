"""Serve the pose page, its ONNX Runtime Web files and two model files.

    mmpose-light-runtime serve POSE.onnx [--det-model DET.onnx]
        [--host 127.0.0.1] [--port 8000] [--ort-dir DIR | --ort-url URL]
        [--write-site DIR]

The page (``mmpose_light_runtime/web/``: plain ES modules, no build step)
runs the models in the browser with ``onnxruntime-web``; the server only
hands out files. Every response carries the headers that make the page
cross-origin isolated (``Cross-Origin-Opener-Policy: same-origin`` and
``Cross-Origin-Embedder-Policy: require-corp``), without which browsers
give WebAssembly a single thread.

``onnxruntime-web`` is not in the Python package (its WebAssembly files are
45 MB). It is read from ``--ort-dir`` (the ``dist`` folder of the npm
package: ``npm install onnxruntime-web@1.31.1``), else from a
``node_modules/onnxruntime-web/dist`` in the current folder or one above
it, else the page loads it from ``--ort-url`` (default: the pinned version
on the jsDelivr CDN).

``--write-site DIR`` writes the same files (page, ``config.json``, models,
and the local ONNX Runtime Web files if any) to a folder for any static
host instead of serving them; docs/web.md says which headers that host must
send.
"""
import argparse
import http.server
import json
import os
import os.path as osp
import shutil
import sys
from typing import Dict, List, Optional
from urllib.parse import unquote, urlsplit

__all__ = [
    'WEB_DIR', 'ORT_WEB_VERSION', 'ORT_WEB_CDN', 'find_ort_dir',
    'page_config', 'make_server', 'write_site', 'main'
]

#: The page's files, shipped inside the package.
WEB_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'web')
#: The onnxruntime-web release the page is tested with (web/package.json).
ORT_WEB_VERSION = '1.31.1'
#: Where the page loads onnxruntime-web from without a local copy.
ORT_WEB_CDN = (f'https://cdn.jsdelivr.net/npm/onnxruntime-web@'
               f'{ORT_WEB_VERSION}/dist/')
#: The files of onnxruntime-web's ``dist`` that the page loads: the API
#: and WebAssembly build without WebGPU (15 MB), and with it (30 MB, loaded
#: only where the browser has WebGPU).
ORT_FILES = ('ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs',
             'ort-wasm-simd-threaded.wasm', 'ort.min.mjs',
             'ort-wasm-simd-threaded.jsep.mjs',
             'ort-wasm-simd-threaded.jsep.wasm')

#: Headers of every response: cross-origin isolation (WASM threads).
ISOLATION_HEADERS = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
}

_TYPES = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.json': 'application/json',
    '.wasm': 'application/wasm',
    '.onnx': 'application/octet-stream',
    '.png': 'image/png',
}


def find_ort_dir(start: Optional[str] = None) -> Optional[str]:
    """The ``dist`` folder of an npm-installed onnxruntime-web in ``start``
    (default: the current folder), its ``web`` folder, or a folder above.

    Returns:
        str | None: The folder, or None where there is none.
    """
    folder = osp.abspath(start or os.getcwd())
    while True:
        for base in (folder, osp.join(folder, 'web')):
            dist = osp.join(base, 'node_modules', 'onnxruntime-web', 'dist')
            if osp.isfile(osp.join(dist, ORT_FILES[0])):
                return dist
        parent = osp.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _check_ort_dir(ort_dir: str) -> str:
    missing = [f for f in ORT_FILES if not osp.isfile(osp.join(ort_dir, f))]
    if missing:
        raise ValueError(
            f'--ort-dir {ort_dir!r} lacks {missing}; give the dist folder of '
            f'onnxruntime-web {ORT_WEB_VERSION} (npm install '
            f'onnxruntime-web@{ORT_WEB_VERSION}: node_modules/'
            'onnxruntime-web/dist)')
    return ort_dir


def _check_model(path: str, option: str) -> str:
    """A readable ONNX file: the page reads its metadata itself and shows
    what is wrong, but a missing file is a mistake on the command line."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{option} {path!r} does not exist')
    if path.endswith('.ncnn.param') or path.endswith('.ncnn.bin'):
        raise ValueError(f'{option} {path!r} is an ncnn model; the page '
                         'runs ONNX files (onnxruntime-web)')
    return osp.abspath(path)


def page_config(pose: Optional[str], detector: Optional[str],
                ort_url: str) -> Dict[str, Optional[str]]:
    """The ``config.json`` the page reads at start: where its two models
    and onnxruntime-web are."""
    return dict(
        pose='models/' + osp.basename(pose) if pose else None,
        detector='models/' + osp.basename(detector) if detector else None,
        ort=ort_url)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """GET and HEAD of the page, ``config.json``, ``ort/*`` and
    ``models/*``, with the isolation headers; nothing else."""

    routes: Dict[str, str] = {}
    config: bytes = b'{}'
    quiet = False

    def _resolve(self) -> Optional[str]:
        path = unquote(urlsplit(self.path).path)
        if path in ('', '/'):
            path = '/index.html'
        if path == '/config.json':
            return 'config'
        return self.routes.get(path.lstrip('/'))

    def _send(self, head_only: bool) -> None:
        target = self._resolve()
        if target is None:
            self.send_error(404, 'not one of the page\'s files')
            return
        if target == 'config':
            body, ctype = self.config, _TYPES['.json']
        else:
            with open(target, 'rb') as f:
                body = f.read()
            ctype = _TYPES.get(osp.splitext(target)[1],
                               'application/octet-stream')
        self.send_response(200)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-cache')
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not head_only:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser stopped reading (it left the page)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._send(False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(True)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if not self.quiet:
            super().log_message(format, *args)


def _routes(pose: Optional[str], detector: Optional[str],
            ort_dir: Optional[str]) -> Dict[str, str]:
    """URL path (no leading slash) -> file, for every file served."""
    routes = {
        name: osp.join(WEB_DIR, name)
        for name in sorted(os.listdir(WEB_DIR))
        if osp.splitext(name)[1] in ('.html', '.js', '.css')
    }
    for path in (pose, detector):
        if path:
            routes['models/' + osp.basename(path)] = path
    if ort_dir:
        for name in ORT_FILES:
            routes['ort/' + name] = osp.join(ort_dir, name)
    return routes


def _site(pose: Optional[str], detector: Optional[str],
          ort_dir: Optional[str], ort_url: Optional[str]):
    """The files of the page (URL path -> file), its ``config.json`` and
    where onnxruntime-web comes from, checked; what the server serves and
    :func:`write_site` writes."""
    pose = _check_model(pose, 'the pose model') if pose else None
    detector = _check_model(detector, '--det-model') if detector else None
    if pose and detector and osp.basename(pose) == osp.basename(detector):
        raise ValueError('the pose model and the detector have the same '
                         f'file name {osp.basename(pose)!r}; rename one')
    ort_dir = _check_ort_dir(ort_dir) if ort_dir else find_ort_dir()
    ort_source = ort_dir or (ort_url or ORT_WEB_CDN)
    config = json.dumps(page_config(pose, detector, 'ort/' if ort_dir else
                                    ort_source)).encode()
    return _routes(pose, detector, ort_dir), config, ort_source


def make_server(pose: Optional[str] = None,
                detector: Optional[str] = None,
                host: str = '127.0.0.1',
                port: int = 8000,
                ort_dir: Optional[str] = None,
                ort_url: Optional[str] = None,
                quiet: bool = False) -> http.server.ThreadingHTTPServer:
    """A server of the page; call ``serve_forever()`` on it.

    Args:
        pose (str, optional): A pose model written by
            ``tools/export_onnx.py``; the page also opens one from disk.
        detector (str, optional): A detector written by
            ``tools/export_detector.py``.
        host (str): Address to listen on. Defaults to ``'127.0.0.1'``.
        port (int): Port; 0 picks a free one. Defaults to 8000.
        ort_dir (str, optional): onnxruntime-web's ``dist`` folder.
            Defaults to None: :func:`find_ort_dir`, else ``ort_url``.
        ort_url (str, optional): Where the page loads onnxruntime-web
            from without a local copy. Defaults to :data:`ORT_WEB_CDN`.
        quiet (bool): No request log. Defaults to False.

    Returns:
        ThreadingHTTPServer: The server, bound; ``server.url`` is its
        address and ``server.ort_source`` where the page gets
        onnxruntime-web.
    """
    routes, config, ort_source = _site(pose, detector, ort_dir, ort_url)
    handler = type('Handler', (_Handler, ),
                   dict(routes=routes, config=config, quiet=quiet))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    shown = f'[{host}]' if ':' in host else host
    server.url = f'http://{shown}:{server.server_address[1]}/'
    server.ort_source = ort_source
    return server


def write_site(folder: str,
               pose: Optional[str] = None,
               detector: Optional[str] = None,
               ort_dir: Optional[str] = None,
               ort_url: Optional[str] = None) -> List[str]:
    """Write the page, its ``config.json``, the models and the local
    onnxruntime-web files to ``folder``, for a static host.

    Returns:
        list[str]: The files written, relative to ``folder``.
    """
    routes, config, _ = _site(pose, detector, ort_dir, ort_url)
    os.makedirs(folder, exist_ok=True)
    for name, source in routes.items():
        os.makedirs(osp.dirname(osp.join(folder, name)) or folder,
                    exist_ok=True)
        shutil.copyfile(source, osp.join(folder, name))
    with open(osp.join(folder, 'config.json'), 'wb') as f:
        f.write(config)
    return sorted(list(routes) + ['config.json'])


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='mmpose-light-runtime serve',
        description='Serve the pose page (inference runs in the browser, '
        'with onnxruntime-web) and the model files from this machine, '
        'with the headers that WebAssembly threads need.')
    parser.add_argument(
        'model', nargs='?',
        help='pose model written by tools/export_onnx.py (the page can '
        'also open one from disk)')
    parser.add_argument(
        '--det-model', help='person detector written by '
        'tools/export_detector.py (default: the whole frame)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: %(default)s)')
    parser.add_argument('--port', type=int, default=8000,
                        help='port, 0 for any free one (default: '
                        '%(default)s)')
    parser.add_argument(
        '--ort-dir', help='the dist folder of onnxruntime-web (default: '
        'node_modules/onnxruntime-web/dist here or above, else --ort-url)')
    parser.add_argument(
        '--ort-url', default=ORT_WEB_CDN,
        help='where the page loads onnxruntime-web from without a local '
        'copy (default: %(default)s)')
    parser.add_argument(
        '--write-site', metavar='DIR',
        help='write the page and the files to DIR for a static host '
        'instead of serving them')
    parser.add_argument('--quiet', action='store_true',
                        help='no request log')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``mmpose-light-runtime serve``."""
    args = parse_args(argv)
    try:
        if args.write_site:
            files = write_site(args.write_site, args.model, args.det_model,
                               args.ort_dir, args.ort_url)
            print(f'wrote {len(files)} files to {args.write_site}; serve '
                  'them with the headers of docs/web.md')
            return 0
        server = make_server(args.model, args.det_model, args.host,
                             args.port, args.ort_dir, args.ort_url,
                             args.quiet)
    except (OSError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    print(f'onnxruntime-web from {server.ort_source}', flush=True)
    print(f'Serving the pose page at {server.url} (Ctrl-C to stop)',
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
