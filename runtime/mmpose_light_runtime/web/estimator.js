// Top-down pose estimation on person boxes, as estimator.py: boxes to
// centre and scale, the crops warped and normalised, all crops of a frame
// through the network in one batch (with the flip test, the crops and their
// mirror images in one batch), decoded by the model's codec, and mapped
// back to the image; poses scored and sized as CocoMetric takes them.

import { Backend } from './backends.js';
import { decodeOutputs, mergeFlippedOutputs, rescorePoses } from
  './codecs.js';
import { parseMeta } from './meta.js';
import { bboxXyxyToCenterScale, fixAspectRatio, getWarpMatrix,
  normalizeCrop, poseArea, warpAffine } from './preprocess.js';

const f32 = Math.fround;

/**
 * Check person boxes: an array of [x1, y1, x2, y2], finite, x2 > x1 and
 * y2 > y1 (as preprocess.check_bboxes).
 * @param {number[][]} bboxes
 * @returns {number[][]}
 */
export function checkBboxes(bboxes) {
  if (!Array.isArray(bboxes)) {
    throw new Error(`boxes should be an array of [x1, y1, x2, y2], but got ` +
      `${typeof bboxes}`);
  }
  bboxes.forEach((box, i) => {
    const ok = Array.isArray(box) && box.length === 4 &&
      box.every(Number.isFinite) && box[2] > box[0] && box[3] > box[1];
    if (!ok) {
      throw new Error(`box ${i} should be finite [x1, y1, x2, y2] with ` +
        `x2 > x1 and y2 > y1, but got ${JSON.stringify(box)}`);
    }
  });
  return bboxes;
}

/** The poses of no person. */
export function emptyResult() {
  return { keypoints: [], keypointScores: [], bboxes: [], bboxScores: [],
    scores: [], areas: [], trackIds: [] };
}

export class TopdownEstimator {
  /**
   * Load a pose model written by tools/export_onnx.py.
   * @param {Uint8Array} bytes The ONNX file.
   * @param {string} source Its name, for messages.
   * @param {{flipTest?: boolean}} options
   * @returns {Promise<TopdownEstimator>}
   */
  static async create(bytes, source, options = {}) {
    const backend = await Backend.create(bytes, source);
    const meta = parseMeta(backend.metadata, source);
    const estimator = new TopdownEstimator(backend, meta, source,
      Boolean(options.flipTest));
    await estimator.check();
    return estimator;
  }

  constructor(backend, meta, source, flipTest) {
    this.backend = backend;
    this.meta = meta;
    this.source = source;
    this.flipTest = flipTest;
    this.datasetMeta = meta.dataset_meta || {};
    const missing = meta.output_names.filter(
      (name) => !backend.outputNames.includes(name));
    if (missing.length) {
      throw new Error(`${source} lacks the outputs ${missing.join(', ')} ` +
        'its metadata names');
    }
    if (flipTest && !this.datasetMeta.flip_indices) {
      throw new Error(`${source}: flip test needs the keypoints' ` +
        'flip_indices, which its metadata lacks');
    }
  }

  /** The network input size [w, h]. */
  get inputSize() {
    return this.meta.input_size.map(Number);
  }

  /** Run a blank input once: the input shape and the keypoint count. */
  async check() {
    const [width, height] = this.inputSize;
    let outputs;
    try {
      outputs = await this.backend.run(new Float32Array(3 * height * width),
        [1, 3, height, width]);
    } catch (error) {
      throw new Error(`${this.source} does not run on a (1, 3, ${height}, ` +
        `${width}) input, the size its metadata gives: ${error.message}`);
    }
    const indices = this.meta.output_keypoint_indices;
    if (indices) {
      this.numKeypoints = indices.length;
    } else if ('num_keypoints' in this.datasetMeta) {
      this.numKeypoints = Number(this.datasetMeta.num_keypoints);
    } else {
      this.numKeypoints = outputs[this.meta.output_names[0]].dims[1];
    }
  }

  /**
   * Estimate the pose in each box of an image; no NMS.
   * @param {{data: Uint8ClampedArray, width: number, height: number}} image
   *   RGBA pixels (a canvas ImageData).
   * @param {number[][]} bboxes Boxes [x1, y1, x2, y2].
   * @param {number[]} [bboxScores] Box scores (default: ones).
   * @returns {Promise<Object>} One pose per box (see emptyResult).
   */
  async predict(image, bboxes, bboxScores = null) {
    checkBboxes(bboxes);
    const num = bboxes.length;
    bboxScores = bboxScores || bboxes.map(() => 1);
    if (bboxScores.length !== num) {
      throw new Error(`${num} boxes but ${bboxScores.length} box scores`);
    }
    if (!num) return emptyResult();
    const pre = this.meta.preprocess;
    const [width, height] = this.inputSize;
    const plane = width * height;
    const batch = this.flipTest ? 2 * num : num;
    const inputs = new Float32Array(batch * 3 * plane);
    const centers = [];
    const scales = [];
    bboxes.forEach((box, i) => {
      const cs = bboxXyxyToCenterScale(box, pre.bbox_padding);
      const scale = fixAspectRatio(cs.scale, width / height);
      centers.push(cs.center);
      scales.push(scale);
      const crop = warpAffine(image,
        getWarpMatrix(cs.center, scale, [width, height], pre.use_udp),
        width, height);
      normalizeCrop(crop, pre.mean, pre.std, pre.swap_channels, inputs,
        i * 3 * plane);
    });
    if (this.flipTest) flipInputs(inputs, num, width, height);
    const raw = await this.backend.run(inputs, [batch, 3, height, width]);
    let outputs = this.meta.output_names.map((name) => raw[name]);
    if (this.flipTest) {
      outputs = mergeFlippedOutputs(outputs.map((o) => sliceBatch(o, 0, num)),
        outputs.map((o) => sliceBatch(o, num, 2 * num)), this.meta);
    }
    const decoded = decodeOutputs(outputs, this.meta, this.flipTest);
    return this.toImage(decoded, centers, scales, bboxes, bboxScores);
  }

  /** Keypoints from input to image coordinates, as estimator.decode, and
   * the pose scores and areas of make_result. */
  toImage(decoded, centers, scales, bboxes, bboxScores) {
    const [width, height] = this.inputSize;
    const indices = this.meta.output_keypoint_indices ||
      [...Array(decoded.K).keys()];
    const thr = this.meta.rescore.keypoint_score_thr ?? 0.2;
    const pre = this.meta.preprocess;
    const result = emptyResult();
    for (let n = 0; n < bboxes.length; n++) {
      const [cx, cy] = centers[n];
      const [sw, sh] = scales[n];
      const kpts = [];
      const kptScores = [];
      for (const k of indices) {
        const at = n * decoded.K + k;
        kpts.push([
          f32(decoded.keypoints[2 * at] / width * sw + cx - 0.5 * sw),
          f32(decoded.keypoints[2 * at + 1] / height * sh + cy - 0.5 * sh),
        ]);
        kptScores.push(f32(decoded.scores[at]));
      }
      const bboxScore = f32(bboxScores[n]);
      result.keypoints.push(kpts);
      result.keypointScores.push(kptScores);
      result.bboxes.push(bboxes[n].slice());
      result.bboxScores.push(bboxScore);
      result.scores.push(rescorePoses(kptScores, bboxScore, 'bbox_keypoint',
        thr));
      result.areas.push(poseArea(bboxes[n], this.inputSize,
        pre.bbox_padding));
      result.trackIds.push(-1);
    }
    return result;
  }
}

/** Append the mirror image of each of the first num planar crops. */
function flipInputs(inputs, num, width, height) {
  const size = 3 * width * height;
  for (let n = 0; n < num; n++) {
    const src = n * size;
    const dst = (num + n) * size;
    for (let row = 0; row < 3 * height; row++) {
      const base = row * width;
      for (let x = 0; x < width; x++) {
        inputs[dst + base + x] = inputs[src + base + width - 1 - x];
      }
    }
  }
}

/** Items [start, end) of a batch output {data, dims}. */
function sliceBatch(output, start, end) {
  const item = output.dims.slice(1).reduce((a, b) => a * b, 1);
  return { data: output.data.subarray(start * item, end * item),
    dims: [end - start, ...output.dims.slice(1)] };
}
