/**
 * Network outputs to keypoints, as MMPose's codecs and heads decode them.
 *
 * A port of the Python runtime's `codecs.py` (the spec) for the codecs the
 * page supports: `MSRAHeatmap` (argmax and the quarter-pixel shift, or
 * DARK with `unbiased: true`), `RegressionLabel` (with the RLE sigmas) and
 * `SimCCLabel` (without DARK); `UDPHeatmap` and SimCC with `use_dark` raise
 * a clear error. Also the flip-test merging and `CocoMetric`'s rescoring.
 * Arithmetic is float32 where Python's is (`Math.fround`), so that the
 * results match the Python runtime's to about 1e-5.
 *
 * A tensor is `{data: Float32Array, dims: number[]}`, row-major, as
 * onnxruntime-web's `Tensor`; `meta` is the model's JSON metadata
 * (`runtime/mmpose_light_runtime/meta.py`).
 *
 * @module codecs
 */

const fround = Math.fround;

/** The codecs the page decodes. */
export const SUPPORTED_CODECS = ['MSRAHeatmap', 'RegressionLabel',
  'SimCCLabel'];

function shapeText(dims) {
  return `(${dims.join(', ')})`;
}

/**
 * A checked tensor whose data is a Float32Array.
 *
 * @param {string} name How the messages call it.
 * @param {*} tensor `{data, dims}`.
 * @param {number[]} ranks The allowed numbers of dimensions.
 * @returns {{data: Float32Array, dims: number[]}} The tensor.
 */
function checkTensor(name, tensor, ranks) {
  if (tensor === null || typeof tensor !== 'object' ||
      !Array.isArray(tensor.dims) && !ArrayBuffer.isView(tensor.dims)) {
    throw new Error(`${name} should be a tensor {data, dims}, but got ` +
                    `${tensor}`);
  }
  const dims = Array.from(tensor.dims, Number);
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${name} has invalid dims ${shapeText(dims)}`);
  }
  if (!ranks.includes(dims.length)) {
    throw new Error(`${name} should have ${ranks.join(' or ')} ` +
                    `dimensions, but has shape ${shapeText(dims)}`);
  }
  const size = dims.reduce((a, b) => a * b, 1);
  let { data } = tensor;
  if (!(Array.isArray(data) || ArrayBuffer.isView(data))) {
    throw new Error(`${name}.data should be a Float32Array, but got ` +
                    `${data}`);
  }
  if (data.length !== size) {
    throw new Error(`${name} of shape ${shapeText(dims)} should hold ` +
                    `${size} values, but holds ${data.length}`);
  }
  if (!(data instanceof Float32Array)) data = Float32Array.from(data);
  return { data, dims };
}

function checkMeta(meta) {
  if (meta === null || typeof meta !== 'object' || meta.codec === null ||
      typeof meta.codec !== 'object') {
    throw new Error('meta should be the model metadata, with a codec ' +
                    `object, but got ${JSON.stringify(meta)}`);
  }
  return meta.codec;
}

function checkOutputs(name, outputs, count) {
  if (!Array.isArray(outputs)) {
    throw new Error(`${name} should be an array of tensors in the order of ` +
                    `meta.output_names, but got ${outputs}`);
  }
  if (outputs.length < count) {
    throw new Error(`${name} should have ${count} tensor(s), but has ` +
                    `${outputs.length}`);
  }
}

function unsupportedUdp() {
  return new Error(
    'UDPHeatmap is not supported in the page: use a model with another ' +
    'codec (MSRAHeatmap, RegressionLabel or SimCCLabel), or the Python ' +
    'runtime');
}

/**
 * Sum float32 values as numpy's pairwise summation does (a float32
 * `sum` along a contiguous axis), each addition rounded to float32.
 *
 * @param {ArrayLike<number>} values Float32 values.
 * @param {number} start First index.
 * @param {number} n How many.
 * @returns {number} The float32 sum.
 */
function pairwiseSumF32(values, start, n) {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = fround(res + values[start + i]);
    return res;
  }
  if (n <= 128) {
    const r = [];
    for (let j = 0; j < 8; j++) r.push(values[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] = fround(r[j] + values[start + i + j]);
    }
    let res = fround(fround(fround(r[0] + r[1]) + fround(r[2] + r[3])) +
                     fround(fround(r[4] + r[5]) + fround(r[6] + r[7])));
    for (; i < n; i++) res = fround(res + values[start + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return fround(pairwiseSumF32(values, start, n2) +
                pairwiseSumF32(values, start + n2, n - n2));
}

/**
 * Argmax (first maximum, or first NaN, as numpy) of `n` values.
 *
 * @returns {number} The index, relative to `start`.
 */
function argmax(data, start, n) {
  let best = data[start];
  let index = 0;
  if (Number.isNaN(best)) return 0;
  for (let i = 1; i < n; i++) {
    const v = data[start + i];
    if (Number.isNaN(v)) return i;
    if (v > best) {
      best = v;
      index = i;
    }
  }
  return index;
}

/**
 * Argmax locations (x, y) and values of (N, K, H, W) heatmaps; -1 where
 * the maximum is <= 0.
 */
function heatmapMaximum(data, num, height, width) {
  const size = height * width;
  const locs = new Float32Array(num * 2);
  const vals = new Float32Array(num);
  for (let m = 0; m < num; m++) {
    const index = argmax(data, m * size, size);
    const val = data[m * size + index];
    vals[m] = val;
    if (val <= 0) {
      locs[m * 2] = -1;
      locs[m * 2 + 1] = -1;
    } else {
      locs[m * 2] = index % width;
      locs[m * 2 + 1] = Math.floor(index / width);
    }
  }
  return { locs, vals };
}

/** Value at (y, x) of map `m`, indices clipped into the map. */
function at(data, m, height, width, y, x) {
  const yc = Math.min(Math.max(y, 0), height - 1);
  const xc = Math.min(Math.max(x, 0), width - 1);
  return data[(m * height + yc) * width + xc];
}

/**
 * MMPose's `refine_keypoints`: a quarter pixel towards the higher
 * neighbour, with its exact border conditions.
 */
function refineQuarter(locs, data, num, height, width) {
  for (let m = 0; m < num; m++) {
    const x = locs[m * 2];
    const y = locs[m * 2 + 1];
    let dx = fround(at(data, m, height, width, y, x + 1) -
                    at(data, m, height, width, y, x - 1));
    if (!(x > 1 && x < width - 1 && y > 0 && y < height)) dx = 0;
    let dy = fround(at(data, m, height, width, y + 1, x) -
                    at(data, m, height, width, y - 1, x));
    if (!(y > 1 && y < height - 1 && x > 0 && x < width)) dy = 0;
    locs[m * 2] = fround(x + Math.sign(dx) * 0.25);
    locs[m * 2 + 1] = fround(y + Math.sign(dy) * 0.25);
  }
}

/**
 * The 1-D kernel of `cv2.GaussianBlur(..., (k, k), 0)` (sigma from the
 * size), float32, as `cv2.getGaussianKernel(k, 0, cv2.CV_32F)`.
 *
 * @param {number} size Odd kernel size.
 * @returns {Float32Array} The kernel.
 */
export function gaussianKernel(size) {
  // OpenCV's fixed kernels for small sizes when sigma is not given
  const fixed = {
    1: [1],
    3: [0.25, 0.5, 0.25],
    5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
    7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
    9: [4 / 256, 13 / 256, 30 / 256, 51 / 256, 60 / 256, 51 / 256,
      30 / 256, 13 / 256, 4 / 256],
  };
  if (fixed[size]) return Float32Array.from(fixed[size]);
  const sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8;
  const scale = -0.5 / (sigma * sigma);
  const values = [];
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = i - (size - 1) / 2;
    const v = Math.exp(scale * x * x);
    values.push(v);
    sum += v;
  }
  return Float32Array.from(values, (v) => v / sum);
}

/**
 * MMPose's `gaussian_blur` of one (H, W) map: `cv2.GaussianBlur` of the
 * zero-padded map (which, cropped back, is a zero-padded separable
 * convolution), rescaled to keep the map's maximum. Float32 arithmetic.
 *
 * @returns {Float32Array} The blurred map.
 */
function gaussianBlurMap(data, offset, height, width, kernel) {
  const k = kernel.length;
  const border = (k - 1) / 2;
  const rows = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let j = 0; j < k; j++) {
        const xx = x + j - border;
        if (xx >= 0 && xx < width) {
          s = fround(s + fround(kernel[j] * data[offset + y * width + xx]));
        }
      }
      rows[y * width + x] = s;
    }
  }
  const out = new Float32Array(height * width);
  let outMax = -Infinity;
  let mapMax = -Infinity;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let i = 0; i < k; i++) {
        const yy = y + i - border;
        if (yy >= 0 && yy < height) {
          s = fround(s + fround(kernel[i] * rows[yy * width + x]));
        }
      }
      out[y * width + x] = s;
      outMax = Math.max(outMax, s);
      mapMax = Math.max(mapMax, data[offset + y * width + x]);
    }
  }
  const ratio = fround(mapMax / outMax);
  for (let i = 0; i < out.length; i++) out[i] = fround(out[i] * ratio);
  return out;
}

/**
 * MMPose's `refine_keypoints_dark`: a Newton step on the log of the
 * blurred heatmap, away from the border.
 */
function refineDark(locs, data, num, height, width, kernelSize) {
  if (!Number.isInteger(kernelSize) || kernelSize < 3 ||
      kernelSize % 2 !== 1) {
    throw new Error('codec.blur_kernel_size should be an odd integer >= 3, ' +
                    `but got ${kernelSize}`);
  }
  const kernel = gaussianKernel(kernelSize);
  const size = height * width;
  const tiny = fround(1e-10);
  for (let m = 0; m < num; m++) {
    const blurred = gaussianBlurMap(data, m * size, height, width, kernel);
    const logs = blurred.map((v) => fround(Math.log(
      Number.isNaN(v) ? v : Math.max(v, tiny))));
    const x = locs[m * 2];
    const y = locs[m * 2 + 1];
    const v = (dy, dx) => at(logs, 0, height, width, y + dy, x + dx);
    const dx = fround(0.5 * fround(v(0, 1) - v(0, -1)));
    const dy = fround(0.5 * fround(v(1, 0) - v(-1, 0)));
    const twice = fround(2 * v(0, 0));
    const dxx = fround(0.25 * fround(fround(v(0, 2) - twice) + v(0, -2)));
    const dxy = fround(0.25 * fround(fround(fround(v(1, 1) - v(-1, 1)) -
                                            v(1, -1)) + v(-1, -1)));
    const dyy = fround(0.25 * fround(fround(v(2, 0) - twice) + v(-2, 0)));
    const det = fround(fround(dxx * dyy) - fround(dxy * dxy));
    const valid = x > 1 && x < width - 2 && y > 1 && y < height - 2 &&
      det !== 0;
    const safeDet = valid ? det : 1;
    const offsetX = fround(-fround(fround(dyy * dx) - fround(dxy * dy)) /
                           safeDet);
    const offsetY = fround(-fround(fround(-dxy * dx) + fround(dxx * dy)) /
                           safeDet);
    locs[m * 2] = fround(x + offsetX * (valid ? 1 : 0));
    locs[m * 2 + 1] = fround(y + offsetY * (valid ? 1 : 0));
  }
}

function decodeMsraHeatmaps(heatmaps, codec) {
  const [n, k, height, width] = heatmaps.dims;
  if (height === 0 || width === 0) {
    throw new Error(`heatmaps of shape ${shapeText(heatmaps.dims)} are ` +
                    'empty');
  }
  const { locs, vals } = heatmapMaximum(heatmaps.data, n * k, height, width);
  if (codec.unbiased) {
    const kernel = codec.blur_kernel_size === undefined ? 11 :
      codec.blur_kernel_size;
    refineDark(locs, heatmaps.data, n * k, height, width, kernel);
  } else {
    refineQuarter(locs, heatmaps.data, n * k, height, width);
  }
  const factor = scaleFactor(codec);
  for (let i = 0; i < n * k; i++) {
    locs[i * 2] = fround(locs[i * 2] * factor[0]);
    locs[i * 2 + 1] = fround(locs[i * 2 + 1] * factor[1]);
  }
  return { keypoints: locs, scores: vals, N: n, K: k };
}

function checkCodecSize(codec, key) {
  const size = codec[key];
  if (!Array.isArray(size) || size.length !== 2 ||
      !size.every((v) => typeof v === 'number' && v > 0)) {
    throw new Error(`codec.${key} should be (w, h), 2 positive numbers, ` +
                    `but got ${JSON.stringify(size)}`);
  }
  return size;
}

/** `input_size / heatmap_size` as float32, per axis. */
function scaleFactor(codec) {
  const input = checkCodecSize(codec, 'input_size');
  const heatmap = checkCodecSize(codec, 'heatmap_size');
  return [fround(input[0] / heatmap[0]), fround(input[1] / heatmap[1])];
}

function decodeRegression(coords, codec) {
  const [n, k, d] = coords.dims;
  if (coords.dims.length !== 3 || (d !== 2 && d !== 4)) {
    throw new Error('regression output should have shape (N, K, 2) or ' +
                    `(N, K, 4), but got ${shapeText(coords.dims)}`);
  }
  const [width, height] = checkCodecSize(codec, 'input_size');
  const keypoints = new Float32Array(n * k * 2);
  const scores = new Float32Array(n * k);
  const data = coords.data;
  for (let i = 0; i < n * k; i++) {
    keypoints[i * 2] = data[i * d] * width;
    keypoints[i * 2 + 1] = data[i * d + 1] * height;
    if (d === 4) {
      const sum = fround(fround(1 - data[i * d + 2]) +
                         fround(1 - data[i * d + 3]));
      scores[i] = fround(sum / 2);
    } else {
      scores[i] = 1;
    }
  }
  return { keypoints, scores, N: n, K: k };
}

function decodeSimcc(simccX, simccY, codec) {
  if (codec.use_dark) {
    throw new Error('SimCCLabel with use_dark=true is not supported in the ' +
                    'page; export a model with use_dark=false');
  }
  const [n, k, wx] = simccX.dims;
  const [ny, ky, wy] = simccY.dims;
  if (n !== ny || k !== ky || wx === 0 || wy === 0) {
    throw new Error('SimCC outputs should have shapes (N, K, Wx) and ' +
                    `(N, K, Wy), but got ${shapeText(simccX.dims)} and ` +
                    `${shapeText(simccY.dims)}`);
  }
  const ratio = fround(codec.simcc_split_ratio === undefined ? 2.0 :
    codec.simcc_split_ratio);
  if (!(ratio > 0)) {
    throw new Error('codec.simcc_split_ratio should be a positive number, ' +
                    `but got ${codec.simcc_split_ratio}`);
  }
  const keypoints = new Float32Array(n * k * 2);
  const scores = new Float32Array(n * k);
  for (let i = 0; i < n * k; i++) {
    const ix = argmax(simccX.data, i * wx, wx);
    const iy = argmax(simccY.data, i * wy, wy);
    const mx = simccX.data[i * wx + ix];
    const my = simccY.data[i * wy + iy];
    // np.minimum: NaN if either is NaN
    const score = Number.isNaN(mx) || Number.isNaN(my) ? NaN :
      Math.min(mx, my);
    scores[i] = score;
    const valid = !(score <= 0);
    keypoints[i * 2] = fround((valid ? ix : -1) / ratio);
    keypoints[i * 2 + 1] = fround((valid ? iy : -1) / ratio);
  }
  return { keypoints, scores, N: n, K: k };
}

/** The sigmoid in float32, as the Python runtime's log-domain one. */
function sigmoid(x) {
  return fround(1 / (1 + Math.exp(-x)));
}

/** The RLE sigmoid on the sigma channels, where the head applies it. */
function activate(outputs, meta) {
  if (!meta.sigmoid_sigma) return outputs;
  const coords = outputs[0];
  const d = coords.dims[coords.dims.length - 1];
  const data = Float32Array.from(coords.data);
  for (let i = 0; i < data.length; i++) {
    if (i % d >= 2) data[i] = sigmoid(data[i]);
  }
  return [{ data, dims: coords.dims }, ...outputs.slice(1)];
}

/**
 * Decode network outputs with the model's codec, as the Python runtime's
 * `decode_outputs`.
 *
 * @param {Array<{data: Float32Array, dims: number[]}>} outputs Network
 *   outputs, in the order of `meta.output_names`: heatmaps (N, K, H, W);
 *   regression coordinates (N, K, 2) or (N, K, 4) with RLE sigmas; SimCC
 *   x (N, K, Wx) and y (N, K, Wy).
 * @param {object} meta The model's metadata (`codec`, `sigmoid_sigma`).
 * @param {boolean} [merged=false] Whether `outputs` come from
 *   {@link mergeFlippedOutputs} (RLE sigmoid already applied).
 * @returns {{keypoints: Float32Array, scores: Float32Array, N: number,
 *   K: number}} Keypoints (N * K * 2, x then y) in input pixels and
 *   scores (N * K).
 * @throws {Error} For a codec the page does not support (UDPHeatmap,
 *   SimCC with DARK) or outputs of the wrong shape.
 */
export function decodeOutputs(outputs, meta, merged = false) {
  const codec = checkMeta(meta);
  switch (codec.type) {
    case 'MSRAHeatmap': {
      checkOutputs('outputs', outputs, 1);
      return decodeMsraHeatmaps(checkTensor('heatmaps', outputs[0], [4]),
                                codec);
    }
    case 'UDPHeatmap':
      throw unsupportedUdp();
    case 'RegressionLabel': {
      checkOutputs('outputs', outputs, 1);
      let tensors = [checkTensor('regression output', outputs[0], [3])];
      if (!merged) tensors = activate(tensors, meta);
      return decodeRegression(tensors[0], codec);
    }
    case 'SimCCLabel': {
      checkOutputs('outputs', outputs, 2);
      return decodeSimcc(checkTensor('simcc_x', outputs[0], [3]),
                         checkTensor('simcc_y', outputs[1], [3]), codec);
    }
    default:
      throw new Error(`unsupported codec ${JSON.stringify(codec.type)}; the ` +
                      `page decodes ${SUPPORTED_CODECS.join(', ')}`);
  }
}

/** Heatmaps flipped back: keypoints swapped by `flipIndices`, x mirrored,
 * shifted one pixel right with `shift`. */
function flipHeatmaps(heatmaps, flipIndices, shift) {
  const [n, k, height, width] = heatmaps.dims;
  const src = heatmaps.data;
  const out = new Float32Array(src.length);
  const size = height * width;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const from = (i * k + flipIndices[j]) * size;
      const to = (i * k + j) * size;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          // after the shift, column x holds flipped column x - 1
          const xs = shift && x > 0 ? x - 1 : x;
          out[to + y * width + x] = src[from + y * width + width - 1 - xs];
        }
      }
    }
  }
  return { data: out, dims: heatmaps.dims };
}

/** Permute axis 1 of an (N, K, L) tensor, optionally reversing axis 2. */
function permuteKeypoints(tensor, flipIndices, reverse) {
  const [n, k, l] = tensor.dims;
  const out = new Float32Array(tensor.data.length);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const from = (i * k + flipIndices[j]) * l;
      const to = (i * k + j) * l;
      for (let c = 0; c < l; c++) {
        out[to + c] = tensor.data[from + (reverse ? l - 1 - c : c)];
      }
    }
  }
  return { data: out, dims: tensor.dims };
}

function checkFlipIndices(flipIndices, k) {
  if (!Array.isArray(flipIndices)) {
    throw new Error('flip test needs the keypoint flip_indices, which the ' +
                    'model metadata (dataset_meta.flip_indices) does not ' +
                    'have');
  }
  if (flipIndices.length !== k ||
      !flipIndices.every((i) => Number.isInteger(i) && i >= 0 && i < k)) {
    throw new Error(`dataset_meta.flip_indices should be ${k} indices in ` +
                    `[0, ${k}), but got ${JSON.stringify(flipIndices)}`);
  }
}

/** The outputs of flipped crops flipped back, as MMPose's heads do. */
function flipBack(flipped, meta, flipIndices) {
  const codec = meta.codec;
  const testCfg = meta.test_cfg || {};
  if (codec.type === 'MSRAHeatmap' || codec.type === 'UDPHeatmap') {
    const mode = testCfg.flip_mode === undefined ? 'heatmap' :
      testCfg.flip_mode;
    if (mode !== 'heatmap') {
      throw new Error(`flip_mode ${JSON.stringify(mode)} is not supported ` +
                      "in the page; it merges flip_mode 'heatmap' only");
    }
    const heatmaps = checkTensor('flipped heatmaps', flipped[0], [4]);
    checkFlipIndices(flipIndices, heatmaps.dims[1]);
    return [flipHeatmaps(heatmaps, flipIndices, !!testCfg.shift_heatmap)];
  }
  if (codec.type === 'RegressionLabel') {
    const coords = checkTensor('flipped regression output', flipped[0], [3]);
    const [, k, d] = coords.dims;
    checkFlipIndices(flipIndices, k);
    const [inputW] = checkCodecSize(codec, 'input_size');
    const shift = testCfg.shift_coords === undefined ? true :
      !!testCfg.shift_coords;
    const step = fround(1.0 / inputW);
    const data = Float32Array.from(coords.data);
    for (let i = 0; i < data.length; i += d) {
      data[i] = fround(1.0 - data[i]);
      if (shift) data[i] = fround(data[i] - step);
    }
    return [permuteKeypoints({ data, dims: coords.dims }, flipIndices,
                             false)];
  }
  if (codec.type === 'SimCCLabel') {
    const x = checkTensor('flipped simcc_x', flipped[0], [3]);
    const y = checkTensor('flipped simcc_y', flipped[1], [3]);
    checkFlipIndices(flipIndices, x.dims[1]);
    return [permuteKeypoints(x, flipIndices, true),
      permuteKeypoints(y, flipIndices, false)];
  }
  throw new Error(`unsupported codec ${JSON.stringify(codec.type)}; the ` +
                  `page decodes ${SUPPORTED_CODECS.join(', ')}`);
}

/**
 * Average the outputs of the crops and of their mirror images, as the
 * Python runtime's `merge_flipped_outputs` (MMPose's heads' flip test).
 *
 * @param {Array<{data: Float32Array, dims: number[]}>} outputs Network
 *   outputs of the crops, in the order of `meta.output_names`.
 * @param {Array<{data: Float32Array, dims: number[]}>} flipped Network
 *   outputs of the horizontally flipped crops.
 * @param {object} meta The model's metadata (`codec`, `test_cfg`,
 *   `dataset_meta.flip_indices`, `sigmoid_sigma`).
 * @returns {Array<{data: Float32Array, dims: number[]}>} Merged outputs,
 *   for {@link decodeOutputs} with `merged = true` (the RLE sigmoid
 *   applied).
 */
export function mergeFlippedOutputs(outputs, flipped, meta) {
  const codec = checkMeta(meta);
  const count = codec.type === 'SimCCLabel' ? 2 : 1;
  checkOutputs('outputs', outputs, count);
  checkOutputs('flipped', flipped, count);
  const ranks = codec.type === 'MSRAHeatmap' || codec.type === 'UDPHeatmap' ?
    [4] : [3];
  const names = ['outputs[0]', 'outputs[1]'];
  let plain = outputs.slice(0, count).map(
    (t, i) => checkTensor(names[i], t, ranks));
  for (let i = 0; i < count; i++) {
    const a = plain[i].dims;
    const b = checkTensor(`flipped[${i}]`, flipped[i], ranks).dims;
    if (a.length !== b.length || a.some((d, j) => d !== b[j])) {
      throw new Error(`outputs[${i}] ${shapeText(a)} and flipped[${i}] ` +
                      `${shapeText(b)} should have the same shape`);
    }
  }
  const flipIndices = (meta.dataset_meta || {}).flip_indices;
  if (flipIndices === undefined || flipIndices === null) {
    throw new Error('flip test needs the keypoint flip_indices, which the ' +
                    'model metadata does not have');
  }
  let back = flipBack(flipped, meta, flipIndices);
  plain = activate(plain, meta);
  back = activate(back, meta);
  return plain.map((t, i) => {
    const data = new Float32Array(t.data.length);
    for (let j = 0; j < data.length; j++) {
      data[j] = fround(fround(t.data[j] + back[i].data[j]) * 0.5);
    }
    return { data, dims: t.dims };
  });
}

/**
 * The score of one pose as `CocoMetric` computes it before its NMS, as the
 * Python runtime's `rescore_poses` on float32 scores.
 *
 * @param {ArrayLike<number>} keypointScores The pose's keypoint scores
 *   (K), taken as float32.
 * @param {number} bboxScore Its box score, taken as float32.
 * @param {string} [mode='bbox_keypoint'] `'bbox'`, `'keypoint'`,
 *   `'bbox_rle'` or `'bbox_keypoint'`.
 * @param {number} [thr=0.2] Keypoints counted by `'bbox_keypoint'`
 *   score above it.
 * @returns {number} The pose score.
 */
export function rescorePoses(keypointScores, bboxScore, mode = 'bbox_keypoint',
                             thr = 0.2) {
  if ((!Array.isArray(keypointScores) && !ArrayBuffer.isView(keypointScores))
      || keypointScores.length === 0) {
    throw new Error('keypointScores should be a non-empty array of the ' +
                    `pose's K keypoint scores, but got ${keypointScores}`);
  }
  if (typeof bboxScore !== 'number') {
    throw new Error(`bboxScore should be a number, but got ${bboxScore}`);
  }
  const scores = Float32Array.from(keypointScores);
  const box = fround(bboxScore);
  const k = scores.length;
  if (mode === 'bbox') return box;
  if (mode === 'keypoint') return fround(pairwiseSumF32(scores, 0, k) / k);
  if (mode === 'bbox_rle') {
    const mean = fround(pairwiseSumF32(scores, 0, k) / k);
    let max = scores[0];
    for (const s of scores) max = Number.isNaN(s) || s > max ? s : max;
    return fround(fround(box + mean) + max);
  }
  if (mode !== 'bbox_keypoint') {
    throw new Error(`unsupported score mode ${JSON.stringify(mode)}; ` +
                    "use 'bbox', 'keypoint', 'bbox_rle' or 'bbox_keypoint'");
  }
  if (typeof thr !== 'number' || Number.isNaN(thr)) {
    throw new Error(`thr should be a number, but got ${thr}`);
  }
  // numpy compares float32 scores with the threshold as float32
  const t = fround(thr);
  // numpy multiplies by the mask: s * 0 (NaN for an infinite score)
  const kept = scores.map((s) => (s > t ? s : s * 0));
  const count = scores.reduce((c, s) => c + (s > t ? 1 : 0), 0);
  const total = pairwiseSumF32(kept, 0, k);
  return box * (count > 0 ? total / count : 0);
}
