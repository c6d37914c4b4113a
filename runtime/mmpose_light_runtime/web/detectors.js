/**
 * The pure parts of a person detector exported by
 * `tools/export_detector.py`: its input (letterbox), and the boxes from its
 * outputs (score threshold, pre-NMS top-k, box NMS, clipping).
 *
 * A port of the Python runtime's `detectors.py` (the spec):
 * `OnnxDetector.preprocess`, `OnnxDetector.candidates`, `box_nms` and the
 * clipping of `OnnxDetector.__call__`. The resize emulates OpenCV's
 * `cv2.resize(..., interpolation=cv2.INTER_LINEAR)` of 8-bit images (its
 * fixed-point bilinear path), so that the network input matches the
 * Python runtime's.
 *
 * Images are canvas `ImageData`-like objects `{data, width, height}` with
 * RGBA bytes; boxes are flat arrays (x1, y1, x2, y2, x1, ...), as the
 * network's output tensors.
 *
 * @module detectors
 */

import { isArrayLike, roundHalfEven, stableDescending } from './checks.js';
import { Backend } from './backends.js';
import { parseDetectorMeta } from './meta.js';
import { checkImage } from './preprocess.js';
import { boxIou } from './tracker.js';

const fround = Math.fround;

// OpenCV's fixed-point resize coefficients: 11 bits
const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

/**
 * Source offsets and fixed-point weights of one axis of OpenCV's bilinear
 * resize.
 *
 * @param {number} srcSize Source size.
 * @param {number} dstSize Destination size.
 * @param {boolean} clampWeights Whether a position past an edge takes the
 *   edge pixel with weight 1 (the x axis), or keeps its weights over the
 *   clipped rows (the y axis).
 * @returns {{index: Int32Array, weight0: Int32Array, weight1: Int32Array}}
 *   The first source pixel and the weights of it and the next.
 */
function axisCoefficients(srcSize, dstSize, clampWeights) {
  const scale = 1 / (dstSize / srcSize);
  const index = new Int32Array(dstSize);
  const weight0 = new Int32Array(dstSize);
  const weight1 = new Int32Array(dstSize);
  for (let d = 0; d < dstSize; d++) {
    let f = fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = fround(f - s);
    if (clampWeights) {
      if (s < 0) {
        f = 0;
        s = 0;
      }
      if (s >= srcSize - 1) {
        f = 0;
        s = srcSize - 1;
      }
    }
    index[d] = s;
    weight0[d] = roundHalfEven(fround(1 - f) * COEF_SCALE);
    weight1[d] = roundHalfEven(f * COEF_SCALE);
  }
  return { index, weight0, weight1 };
}

/**
 * Resize an RGBA image with bilinear interpolation, as OpenCV's
 * `cv2.resize(image, (outW, outH), interpolation=cv2.INTER_LINEAR)` of an
 * 8-bit BGR image: the same size is a copy, an exact halving averages 2x2
 * pixels (OpenCV's `INTER_AREA` shortcut), anything else is OpenCV's
 * fixed-point bilinear resize (11-bit weights, a horizontal then a
 * vertical pass with the rounding of its SIMD code). Matches OpenCV 5.1
 * exactly on the test images.
 *
 * @param {{data: (Uint8ClampedArray|Uint8Array), width: number,
 *   height: number}} image The RGBA image.
 * @param {number} outW Output width.
 * @param {number} outH Output height.
 * @returns {{data: Uint8ClampedArray, width: number, height: number}} The
 *   resized RGBA image, alpha 255.
 */
export function resizeBilinear(image, outW, outH) {
  checkImage('image', image);
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW < 1 ||
      outH < 1) {
    throw new Error('the output size should be 2 positive integers, but ' +
                    `got ${outW} x ${outH}`);
  }
  const { data: src, width, height } = image;
  const out = new Uint8ClampedArray(outW * outH * 4);
  if (outW === width && outH === height) {
    out.set(src);
    for (let i = 3; i < out.length; i += 4) out[i] = 255;
    return { data: out, width: outW, height: outH };
  }
  if (width / outW === 2 && height / outH === 2) {
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const p = (2 * y * width + 2 * x) * 4;
        const q = p + width * 4;
        const o = (y * outW + x) * 4;
        for (let c = 0; c < 3; c++) {
          out[o + c] = (src[p + c] + src[p + 4 + c] + src[q + c] +
                        src[q + 4 + c] + 2) >> 2;
        }
        out[o + 3] = 255;
      }
    }
    return { data: out, width: outW, height: outH };
  }
  const xs = axisCoefficients(width, outW, true);
  const ys = axisCoefficients(height, outH, false);
  // the horizontal pass of every source row, on demand
  const rows = new Map();
  const rowPass = (sy) => {
    let row = rows.get(sy);
    if (row === undefined) {
      row = new Int32Array(outW * 3);
      const base = sy * width * 4;
      for (let x = 0; x < outW; x++) {
        const p = base + xs.index[x] * 4;
        const next = xs.index[x] + 1 < width ? p + 4 : p;
        for (let c = 0; c < 3; c++) {
          row[x * 3 + c] = src[p + c] * xs.weight0[x] +
            src[next + c] * xs.weight1[x];
        }
      }
      rows.set(sy, row);
    }
    return row;
  };
  for (let y = 0; y < outH; y++) {
    const sy = ys.index[y];
    const r0 = rowPass(Math.min(Math.max(sy, 0), height - 1));
    const r1 = rowPass(Math.min(Math.max(sy + 1, 0), height - 1));
    const b0 = ys.weight0[y];
    const b1 = ys.weight1[y];
    // drop rows no longer needed
    if (rows.size > 4) {
      for (const key of rows.keys()) {
        if (key < sy) rows.delete(key);
      }
    }
    for (let x = 0; x < outW; x++) {
      const o = (y * outW + x) * 4;
      for (let c = 0; c < 3; c++) {
        // OpenCV's SIMD vertical pass (VResizeLinearVec_32s8u): the row
        // sums shifted right by 4, 16-bit high products with the weights,
        // then (sum + 2) >> 2
        const i = x * 3 + c;
        const t0 = ((r0[i] >> 4) * b0) >> 16;
        const t1 = ((r1[i] >> 4) * b1) >> 16;
        out[o + c] = (t0 + t1 + 2) >> 2;
      }
      out[o + 3] = 255;
    }
  }
  return { data: out, width: outW, height: outH };
}

function checkTriple(name, value) {
  if (!isArrayLike(value) || value.length !== 3 ||
      !Array.from(value).every((v) => typeof v === 'number' &&
                                Number.isFinite(v))) {
    throw new Error(`${name} should be 3 finite numbers (mean null for no ` +
                    `normalisation), but got ${value}`);
  }
  return Array.from(value, fround);
}

/**
 * The network input of a detector, as the Python runtime's
 * `OnnxDetector.preprocess`: the image scaled by `min(w / W, h / H)` to
 * `int(W * ratio + 0.5)` x `int(H * ratio + 0.5)` (MMCV's `imrescale`),
 * padded at the bottom and right with `padValue`, channels in BGR order
 * (RGB with `toRgb`), `(x - mean) / std` in float32.
 *
 * @param {{data: (Uint8ClampedArray|Uint8Array), width: number,
 *   height: number}} image The RGBA image.
 * @param {ArrayLike<number>} inputSize The network input size (w, h).
 * @param {object} options The detector's preprocessing settings.
 * @param {number} options.padValue The padding value.
 * @param {?ArrayLike<number>} [options.mean=null] Per-channel mean, in
 *   the order fed to the network; null for no normalisation.
 * @param {?ArrayLike<number>} [options.std=null] Per-channel std.
 * @param {boolean} [options.toRgb=false] Feed RGB instead of BGR.
 * @returns {{input: Float32Array, scale: number[]}} The planar input
 *   (3 * h * w) and the resize factors (x, y) by which boxes are scaled
 *   back.
 */
export function letterbox(image, inputSize, { padValue, mean = null,
  std = null, toRgb = false } = {}) {
  checkImage('image', image);
  if (!isArrayLike(inputSize) || inputSize.length !== 2 ||
      !Array.from(inputSize).every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error('inputSize should be 2 positive integers (w, h), but ' +
                    `got ${inputSize}`);
  }
  if (typeof padValue !== 'number' || !Number.isFinite(padValue)) {
    throw new Error(`padValue should be a finite number, but got ${padValue}`);
  }
  let m = null;
  let s = null;
  if (mean !== null && mean !== undefined) {
    m = checkTriple('mean', mean);
    s = checkTriple('std', std);
  }
  const [w, h] = inputSize;
  const ratio = Math.min(w / image.width, h / image.height);
  const sw = Math.max(1, Math.trunc(image.width * ratio + 0.5));
  const sh = Math.max(1, Math.trunc(image.height * ratio + 0.5));
  const resized = resizeBilinear(image, sw, sh).data;
  const pad = fround(padValue);
  const plane = w * h;
  const input = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    // BGR channel (toRgb ? 2 - c : c) is RGBA channel 2 - that
    const rgba = toRgb ? c : 2 - c;
    const base = c * plane;
    const norm = m === null ? (v) => v : (v) => fround(v - m[c]) / s[c];
    const padded = norm(pad);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        input[base + y * w + x] = y < sh && x < sw ?
          norm(resized[(y * sw + x) * 4 + rgba]) : padded;
      }
    }
  }
  return { input, scale: [sw / image.width, sh / image.height] };
}

/**
 * Check flat boxes (N * 4) against N scores.
 *
 * @returns {number} N.
 */
function checkBoxes(boxes, scores) {
  if (!isArrayLike(scores)) {
    throw new Error(`scores should be an array (N), but got ${scores}`);
  }
  const num = scores.length;
  if (!isArrayLike(boxes) || boxes.length !== num * 4) {
    throw new Error('boxes should be a flat array of N * 4 = ' +
                    `${num * 4} numbers (x1, y1, x2, y2 per box) for the ` +
                    `${num} scores, but got ` +
                    `${isArrayLike(boxes) ? boxes.length : boxes}`);
  }
  return num;
}

/**
 * A detector's person boxes before NMS, as the Python runtime's
 * `OnnxDetector.candidates` (MMDetection's `predict`): scored at least
 * `scoreThr`, the best `nmsPre` of them, scaled back to the frame, the
 * too small dropped.
 *
 * @param {ArrayLike<number>} boxes The network's boxes (P * 4), (x1, y1,
 *   x2, y2) in input pixels (a Float32Array).
 * @param {ArrayLike<number>} scores The network's person scores (P).
 * @param {object} cfg The detector's postprocessing settings.
 * @param {number} cfg.scoreThr Keep boxes scored at least this.
 * @param {?number} [cfg.nmsPre=null] Keep the best this many; null or < 0
 *   for all.
 * @param {?number} [cfg.minBboxSize=null] Drop boxes not wider and taller
 *   than this; null or < 0 for none.
 * @param {ArrayLike<number>} scale The resize factors (x, y) of
 *   {@link letterbox}.
 * @returns {{boxes: Float64Array, scores: Float32Array,
 *   indices: Int32Array}} Boxes (M * 4) in the frame, their scores (M) and
 *   prior indices (M), by descending score.
 */
export function detectorCandidates(boxes, scores, { scoreThr, nmsPre = null,
  minBboxSize = null } = {}, scale) {
  const num = checkBoxes(boxes, scores);
  if (typeof scoreThr !== 'number' || Number.isNaN(scoreThr)) {
    throw new Error(`scoreThr should be a number, but got ${scoreThr}`);
  }
  if (nmsPre !== null && nmsPre !== undefined && !Number.isInteger(nmsPre)) {
    throw new Error(`nmsPre should be an int or null, but got ${nmsPre}`);
  }
  if (minBboxSize !== null && minBboxSize !== undefined &&
      typeof minBboxSize !== 'number') {
    throw new Error('minBboxSize should be a number or null, but got ' +
                    `${minBboxSize}`);
  }
  if (!isArrayLike(scale) || scale.length !== 2 ||
      !Array.from(scale).every((v) => typeof v === 'number' && v > 0)) {
    throw new Error('scale should be the 2 positive resize factors (x, y) ' +
                    `of letterbox, but got ${scale}`);
  }
  const values = Float32Array.from(scores);
  // numpy compares float32 scores with the threshold as float32
  const thr = fround(scoreThr);
  const above = [];
  for (let i = 0; i < num; i++) if (values[i] >= thr) above.push(i);
  let keep = stableDescending(values, above);
  if (nmsPre !== null && nmsPre !== undefined && nmsPre >= 0) {
    keep = keep.slice(0, nmsPre);
  }
  const frameBoxes = keep.map((i) => [
    fround(boxes[i * 4]) / scale[0], fround(boxes[i * 4 + 1]) / scale[1],
    fround(boxes[i * 4 + 2]) / scale[0], fround(boxes[i * 4 + 3]) / scale[1],
  ]);
  let wide = keep.map(() => true);
  if (minBboxSize !== null && minBboxSize !== undefined &&
      minBboxSize >= 0) {
    wide = frameBoxes.map((b) => b[2] - b[0] > minBboxSize &&
                          b[3] - b[1] > minBboxSize);
  }
  const kept = keep.filter((i, r) => wide[r]);
  return {
    boxes: Float64Array.from(frameBoxes.filter((b, r) => wide[r]).flat()),
    scores: Float32Array.from(kept, (i) => values[i]),
    indices: Int32Array.from(kept),
  };
}

/**
 * Greedy NMS of one class of boxes, as MMCV's `nms` op (the Python
 * runtime's `box_nms`): boxes are visited from the highest score down
 * (equal scores by index); a box is dropped when its IoU (no +1 pixel
 * offset) with a kept box exceeds `iouThr`.
 *
 * @param {ArrayLike<number>} boxes Flat boxes (N * 4), (x1, y1, x2, y2).
 * @param {ArrayLike<number>} scores Scores (N).
 * @param {number} iouThr Drop boxes overlapping a kept one by more.
 * @param {number} [maxNum=-1] Keep at most this many; -1 for all.
 * @returns {number[]} Indices of the kept boxes, by descending score.
 */
export function boxNms(boxes, scores, iouThr, maxNum = -1) {
  const num = checkBoxes(boxes, scores);
  if (typeof iouThr !== 'number' || Number.isNaN(iouThr)) {
    throw new Error(`iouThr should be a number, but got ${iouThr}`);
  }
  if (!Number.isInteger(maxNum)) {
    throw new Error(`maxNum should be an int (-1 for all), but got ${maxNum}`);
  }
  const list = [];
  for (let i = 0; i < num; i++) {
    list.push([boxes[i * 4], boxes[i * 4 + 1], boxes[i * 4 + 2],
      boxes[i * 4 + 3]]);
  }
  let order = stableDescending(Array.from(scores),
                               list.map((b, i) => i));
  const keep = [];
  while (order.length && keep.length !== maxNum) {
    const [first, ...rest] = order;
    keep.push(first);
    const iou = boxIou([list[first]], rest.map((i) => list[i]))[0];
    // two empty boxes have IoU 0: they suppress nothing, as in MMCV
    order = rest.filter((i, r) => !(iou[r] > iouThr));
  }
  return keep;
}

/**
 * Boxes clipped to the frame, empty ones dropped, as the Python runtime's
 * `OnnxDetector.__call__` does with its detections.
 *
 * @param {{boxes: ArrayLike<number>, scores: ArrayLike<number>}} dets
 *   Flat boxes (N * 4), (x1, y1, x2, y2), and their scores (N).
 * @param {number} width Frame width.
 * @param {number} height Frame height.
 * @returns {{boxes: Float64Array, scores: Float32Array}} The clipped
 *   non-empty boxes (M * 4) and their scores (M).
 */
export function clipBoxes(dets, width, height) {
  if (dets === null || typeof dets !== 'object') {
    throw new Error(`dets should be {boxes, scores}, but got ${dets}`);
  }
  const num = checkBoxes(dets.boxes, dets.scores);
  if (!(width > 0) || !(height > 0)) {
    throw new Error('width and height should be positive numbers, but got ' +
                    `${width} x ${height}`);
  }
  const boxes = [];
  const scores = [];
  const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
  for (let i = 0; i < num; i++) {
    const box = [clip(dets.boxes[i * 4], width),
      clip(dets.boxes[i * 4 + 1], height),
      clip(dets.boxes[i * 4 + 2], width),
      clip(dets.boxes[i * 4 + 3], height)];
    if (box[2] > box[0] && box[3] > box[1]) {
      if (!Number.isFinite(dets.scores[i])) {
        throw new Error(`dets.scores should be finite, but box ${i} has ` +
                        `${dets.scores[i]}`);
      }
      boxes.push(...box);
      scores.push(dets.scores[i]);
    }
  }
  return { boxes: Float64Array.from(boxes), scores: Float32Array.from(scores) };
}

/**
 * A person detector written by tools/export_detector.py, run in the
 * browser: letterbox, the network, candidates, NMS, boxes clipped to the
 * frame (OnnxDetector of detectors.py, for that format).
 */
export class OnnxDetector {
  /**
   * @param {Uint8Array} bytes The ONNX file.
   * @param {string} source Its name, for messages.
   * @returns {Promise<OnnxDetector>}
   */
  static async create(bytes, source) {
    const backend = await Backend.create(bytes, source);
    const meta = parseDetectorMeta(backend.metadata, source);
    const missing = meta.output_names.filter(
      (name) => !backend.outputNames.includes(name));
    if (missing.length) {
      throw new Error(`${source} lacks the outputs ${missing.join(', ')} ` +
        `that its metadata names; it has ${backend.outputNames.join(', ')}`);
    }
    return new OnnxDetector(backend, meta, source);
  }

  constructor(backend, meta, source) {
    this.backend = backend;
    this.meta = meta;
    this.source = source;
    this.inputSize = meta.input_size.map(Number);
    this.scoreThr = meta.postprocess.score_thr;
  }

  /**
   * Person boxes of an image.
   * @param {{data: Uint8ClampedArray, width: number, height: number}} image
   * @returns {Promise<{bboxes: number[][], scores: number[]}>}
   */
  async detect(image) {
    const pre = this.meta.preprocess;
    const post = this.meta.postprocess;
    const [width, height] = this.inputSize;
    const { input, scale } = letterbox(image, this.inputSize, {
      padValue: pre.pad_value, mean: pre.mean, std: pre.std,
      toRgb: pre.to_rgb });
    const outputs = await this.backend.run(input, [1, 3, height, width]);
    const [boxesName, scoresName] = this.meta.output_names;
    const boxes = outputs[boxesName];
    const scores = outputs[scoresName];
    const count = boxes.dims[1];
    if (boxes.dims.length !== 3 || boxes.dims[0] !== 1 ||
        boxes.dims[2] !== 4 || scores.dims.length !== 2 ||
        scores.dims[1] !== count) {
      throw new Error(`${this.source} returned ${boxesName} ` +
        `(${boxes.dims}) and ${scoresName} (${scores.dims}); expected ` +
        '(1, P, 4) and (1, P)');
    }
    const cand = detectorCandidates(boxes.data, scores.data, {
      scoreThr: this.scoreThr, nmsPre: post.nms_pre,
      minBboxSize: post.min_bbox_size }, scale);
    let keep = Array.from(cand.scores.keys());
    if (post.iou_thr !== null && post.iou_thr !== undefined) {
      keep = boxNms(cand.boxes, cand.scores, post.iou_thr,
        post.max_per_img ?? -1);
    }
    const kept = { boxes: [], scores: [] };
    for (const i of keep) {
      kept.boxes.push(...cand.boxes.subarray(4 * i, 4 * i + 4));
      kept.scores.push(cand.scores[i]);
    }
    const clipped = clipBoxes(kept, image.width, image.height);
    const bboxes = [];
    for (let i = 0; i < clipped.scores.length; i++) {
      bboxes.push(Array.from(clipped.boxes.subarray(4 * i, 4 * i + 4)));
    }
    return { bboxes, scores: Array.from(clipped.scores) };
  }
}
