// The page: choose the models and a source, run the pipeline on every
// frame and draw it, as cli.py does on the command line.
//
// Settings come from config.json (written by mmpose-light-runtime serve)
// and the URL's query: pose, det (model URLs), ort (onnxruntime-web's dist
// URL), engine (auto, webgpu, wasm), threads, flip, track, smooth,
// detInterval, nms (gaussian, linear, none), nmsThr (the NMS score
// threshold, default 0.2), kptThr (draw keypoints scored above it, default
// 0.3), capture (keep each frame's pixels, for tests).
//
// window.poseApp exposes the state for tests and benchmarks: ready (a
// promise), results (one entry per frame: time and poses), error,
// engine, and predict/timePredict.

import { currentEngine, loadEngine } from './backends.js';
import { drawPoses } from './draw.js';
import { OnnxDetector } from './detectors.js';
import { TopdownEstimator } from './estimator.js';
import { DEFAULT_NMS, PosePipeline } from './pipeline.js';
import { playCamera, playVideo, readImage } from './sources.js';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const flag = (name, fallback) => (query.has(name) ?
  !['0', 'false', 'no'].includes(query.get(name)) : fallback);

const app = {
  ready: null,
  state: 'loading',
  error: null,
  engine: null,
  estimator: null,
  detector: null,
  results: [],
  frames: [],
  fps: null,
  running: false,
  stopRequested: false,
};
window.poseApp = app;

function showError(error) {
  const message = error instanceof Error ? error.message : String(error);
  app.error = message;
  $('message').textContent = message;
  $('message').hidden = false;
}

function clearError() {
  app.error = null;
  $('message').hidden = true;
  $('message').textContent = '';
}

function setStatus() {
  const engine = currentEngine();
  const parts = [];
  if (engine) {
    const where = engine.name === 'webgpu' ? 'WebGPU' :
      `WebAssembly, ${engine.threads} thread${engine.threads > 1 ? 's' : ''}`;
    parts.push(`engine: ${where}`);
    parts.push(engine.isolated ? 'cross-origin isolated' :
      'not cross-origin isolated');
  }
  if (app.estimator) {
    const meta = app.estimator.meta;
    parts.push(`pose: ${app.estimator.source} (${meta.codec.type}, ` +
      `${meta.input_size.join('x')}, ${app.estimator.backend.provider})`);
  } else {
    parts.push('pose: none');
  }
  parts.push(app.detector ? `detector: ${app.detector.source}` :
    'detector: none (whole frame)');
  $('status').textContent = parts.join(' · ');
  $('notes').textContent = engine ? engine.notes.join('; ') : '';
}

function setRunning(running) {
  app.running = running;
  for (const id of ['media-file', 'camera', 'pose-file', 'det-file']) {
    $(id).disabled = running;
  }
  $('stop').disabled = !running;
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function loadPose(bytes, name) {
  const estimator = await TopdownEstimator.create(bytes, name,
    { flipTest: $('flip').checked });
  app.estimator = estimator;
  setStatus();
}

async function loadDetector(bytes, name) {
  app.detector = await OnnxDetector.create(bytes, name);
  setStatus();
}

function pipeline() {
  if (!app.estimator) throw new Error('open a pose model first');
  const detInterval = Number($('det-interval').value);
  const kernel = query.get('nms') || DEFAULT_NMS.kernel;
  const nms = kernel === 'none' ? null : { ...DEFAULT_NMS, kernel,
    scoreThr: query.has('nmsThr') ? Number(query.get('nmsThr')) :
      DEFAULT_NMS.scoreThr };
  return new PosePipeline(app.estimator, app.detector, {
    detInterval,
    nms,
    tracking: $('track').checked,
    smoothing: $('track').checked && $('smooth').checked,
  });
}

/** Plain arrays of a result, for tests (JSON-able). */
function plain(result) {
  return JSON.parse(JSON.stringify(result));
}

function show(image, result) {
  const canvas = $('view');
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  ctx.putImageData(image, 0, 0);
  drawPoses(ctx, result, app.estimator.datasetMeta, {
    kptThr: query.has('kptThr') ? Number(query.get('kptThr')) : 0.3 });
}

/** What the frame gave: people, and why none where boxes were found. */
function summary(pipe, result) {
  const people = result.bboxes.length;
  if (!people && pipe.lastNumBoxes && pipe.nms) {
    return `0 people: the ${pipe.lastNumBoxes} boxes' poses all scored ` +
      `below the NMS threshold ${pipe.nms.scoreThr} (lower it with ` +
      '?nmsThr=0.05, or ?nms=none)';
  }
  return `${people} ${people === 1 ? 'person' : 'people'}`;
}

function record(image, time, result) {
  app.results.push({ time, poses: plain(result) });
  if (flag('capture', false)) {
    app.frames.push({ width: image.width, height: image.height,
      data: image.data.slice() });
  }
}

async function runImage(file) {
  const image = await readImage(file);
  const pipe = pipeline();
  const start = performance.now();
  const result = await pipe.process(image, 0);
  app.lastMs = performance.now() - start;
  record(image, 0, result);
  show(image, result);
  $('fps').textContent = `${summary(pipe, result)} · ` +
    `${app.lastMs.toFixed(1)} ms`;
}

async function runStream(play) {
  const pipe = pipeline();
  let last = performance.now();
  let smoothed = null;
  app.stopRequested = false;
  return play(async (image, time) => {
    const result = await pipe.process(image, time);
    record(image, time, result);
    show(image, result);
    const now = performance.now();
    const fps = 1000 / Math.max(now - last, 1e-3);
    last = now;
    smoothed = smoothed === null ? fps : 0.8 * smoothed + 0.2 * fps;
    app.fps = smoothed;
    $('fps').textContent = `${summary(pipe, result)} · ` +
      `${smoothed.toFixed(1)} frames/s`;
    return !app.stopRequested;
  });
}

async function guarded(task) {
  clearError();
  setRunning(true);
  app.state = 'running';
  try {
    await task();
    app.state = 'done';
  } catch (error) {
    app.state = 'error';
    showError(error);
    console.error(error);
  } finally {
    setRunning(false);
  }
}

async function onMedia(file) {
  app.results = [];
  app.frames = [];
  if (file.type.startsWith('image/')) {
    await guarded(() => runImage(file));
  } else {
    await guarded(() => runStream((onFrame) => playVideo($('video'), file,
      onFrame)));
  }
}

async function onModel(file, kind) {
  await guarded(async () => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (kind === 'pose') await loadPose(bytes, file.name);
    else await loadDetector(bytes, file.name);
  });
}

/** Time predict() on an image and boxes (benchmarks). */
app.timePredict = async (imageUrl, bboxes, { warmup = 10, runs = 20 } = {}) => {
  const image = await readImage(await (await fetch(imageUrl)).blob());
  for (let i = 0; i < warmup; i++) await app.estimator.predict(image, bboxes);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await app.estimator.predict(image, bboxes);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], times };
};

async function start() {
  $('media-file').addEventListener('change', (e) => {
    if (e.target.files[0]) onMedia(e.target.files[0]);
    e.target.value = '';
  });
  $('pose-file').addEventListener('change', (e) => {
    if (e.target.files[0]) onModel(e.target.files[0], 'pose');
    e.target.value = '';
  });
  $('det-file').addEventListener('change', (e) => {
    if (e.target.files[0]) onModel(e.target.files[0], 'detector');
    e.target.value = '';
  });
  $('camera').addEventListener('click', () => {
    app.results = [];
    app.frames = [];
    guarded(() => runStream((onFrame) => playCamera($('video'), onFrame)));
  });
  $('stop').addEventListener('click', () => { app.stopRequested = true; });
  $('flip').checked = flag('flip', false);
  $('track').checked = flag('track', true);
  $('smooth').checked = flag('smooth', true);
  $('det-interval').value = query.get('detInterval') || '1';
  $('flip').addEventListener('change', () => {
    if (!app.estimator) return;
    if ($('flip').checked && !app.estimator.datasetMeta.flip_indices) {
      $('flip').checked = false;
      showError(`${app.estimator.source}: flip test needs the keypoints' ` +
        'flip_indices, which its metadata lacks');
      return;
    }
    app.estimator.flipTest = $('flip').checked;
  });

  let config = {};
  try {
    const response = await fetch('config.json');
    if (response.ok) config = await response.json();
  } catch (error) {
    // a static host without config.json: models are opened from disk
  }
  const ortBase = new URL(query.get('ort') || config.ort || 'ort/',
    location.href).href;
  try {
    app.engine = await loadEngine(ortBase, {
      engine: query.get('engine') || 'auto',
      threads: Number(query.get('threads')) || undefined,
    });
  } catch (error) {
    app.state = 'error';
    showError(error);
    return;
  }
  setStatus();
  const pose = query.get('pose') || config.pose;
  const det = query.get('det') || config.detector;
  try {
    if (pose) await loadPose(await fetchBytes(pose), pose.split('/').pop());
  } catch (error) {
    showError(error);
  }
  try {
    if (det) await loadDetector(await fetchBytes(det), det.split('/').pop());
  } catch (error) {
    showError(error);
  }
  setRunning(false);
  app.state = app.error ? 'error' : 'ready';
}

app.ready = start();
