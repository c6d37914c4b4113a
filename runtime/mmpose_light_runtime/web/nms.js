/**
 * Pose NMS: Matrix-OKS-NMS and the pairwise Object Keypoint Similarity.
 *
 * A port of the Python runtime's `nms.py` (the spec), in double precision
 * as Python computes float64 poses. Matrix-OKS-NMS is SOLOv2's MatrixNMS
 * with the OKS of two poses in place of the IoU of two masks: every pose
 * is decayed at once from the pairwise OKS of the poses sorted by score:
 *
 * 1. compensation `c_i = max_k OKS(k, i)` over the poses `k` above `i`;
 * 2. decay `d_j = min(1, min_i f(OKS(i, j)) / f(c_i))` over the poses `i`
 *    above `j`, with `f(x) = exp(-sigma * x ** 2)` (gaussian) or `1 - x`
 *    (linear);
 * 3. new score `s_j * d_j`, then a score threshold and top-k.
 *
 * OKS is MMPose's `oks_iou`: the mean over keypoints of
 * `exp(-d ** 2 / (2 * (2 * sigma_k) ** 2 * (a_i + a_j) / 2))`, each
 * exponent clamped at -50, optionally over the keypoints visible (score
 * above `visThr`) in both poses only.
 *
 * Poses are nested arrays: keypoints `number[N][K][2]`, keypoint scores
 * `number[N][K]`, scores and areas `number[N]`.
 *
 * @module nms
 */

import { isArrayLike, describe, checkNumber, stableDescending } from './checks.js';

/** COCO keypoint sigmas, the default of MMPose's `oks_iou`. */
export const COCO_SIGMAS = Object.freeze([
  0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07,
  1.07, 0.87, 0.87, 0.89, 0.89].map((s) => s / 10.0));

/** OKS exponents are clamped here. */
export const MIN_EXPONENT = -50.0;

// The area regulariser of oks_iou (np.spacing(1)).
const EPS = Number.EPSILON;

function checkCount(name, value) {
  if (!(Number.isInteger(value) && (value === -1 || value >= 1))) {
    throw new Error(`${name} should be -1 or a positive int, but got ` +
                    `${describe(value)}`);
  }
  return value;
}

/**
 * Check `keypoints` (N, K, 2); return N and K.
 *
 * @param {*} keypoints The poses' keypoints.
 * @returns {{num: number, numKeypoints: number}} N and K.
 */
export function checkKeypoints(keypoints) {
  const bad = (got) => new Error(
    'keypoints should have shape (N, K, 2), K > 0, as nested arrays ' +
    `number[N][K][2], but got ${got}`);
  if (!isArrayLike(keypoints)) throw bad(describe(keypoints));
  const num = keypoints.length;
  if (num === 0) return { num: 0, numKeypoints: 0 };
  const numKeypoints = isArrayLike(keypoints[0]) ? keypoints[0].length : -1;
  if (numKeypoints <= 0) {
    throw bad(`pose 0 as ${describe(keypoints[0])}`);
  }
  for (let i = 0; i < num; i++) {
    const pose = keypoints[i];
    if (!isArrayLike(pose) || pose.length !== numKeypoints) {
      throw bad(`pose ${i} as ${describe(pose)} where pose 0 has ` +
                `${numKeypoints} keypoints`);
    }
    for (let k = 0; k < numKeypoints; k++) {
      const point = pose[k];
      if (!isArrayLike(point) || point.length !== 2 ||
          typeof point[0] !== 'number' || typeof point[1] !== 'number') {
        throw bad(`keypoint ${k} of pose ${i} as ${describe(point)}`);
      }
      if (!Number.isFinite(point[0]) || !Number.isFinite(point[1])) {
        throw new Error(`keypoints should be finite, but pose ${i} has ` +
                        `[${point[0]}, ${point[1]}]`);
      }
    }
  }
  return { num, numKeypoints };
}

/**
 * Check a per-pose array of numbers.
 *
 * @returns {number[]} The values.
 */
function checkVector(name, value, num, { finite = true } = {}) {
  if (!isArrayLike(value) || value.length !== num) {
    throw new Error(`${name} should have shape (${num},), one number per ` +
                    `pose, but got ${describe(value)}`);
  }
  for (let i = 0; i < num; i++) {
    if (typeof value[i] !== 'number') {
      throw new Error(`${name} should be numbers, but pose ${i} has ` +
                      `${describe(value[i])}`);
    }
    if (finite && !Number.isFinite(value[i])) {
      throw new Error(`${name} should be finite, but pose ${i} has ` +
                      `${value[i]}`);
    }
  }
  return Array.from(value);
}

function checkMatrix(name, value, num, numKeypoints, finite) {
  if (!isArrayLike(value) || value.length !== num) {
    throw new Error(`${name} should have shape (${num}, ${numKeypoints}), ` +
                    `but got ${describe(value)}`);
  }
  for (let i = 0; i < num; i++) {
    const row = value[i];
    if (!isArrayLike(row) || row.length !== numKeypoints) {
      throw new Error(`${name} should have shape (${num}, ` +
                      `${numKeypoints}), but row ${i} is ${describe(row)}`);
    }
    for (let k = 0; k < numKeypoints; k++) {
      if (typeof row[k] !== 'number' ||
          (finite && !Number.isFinite(row[k]))) {
        throw new Error(`${name} should be ${finite ? 'finite ' : ''}` +
                        `numbers, but pose ${i} has ${row[k]}`);
      }
    }
  }
}

/** The sigmas, checked (COCO's by default, for K = 17). */
function checkSigmas(sigmas, numKeypoints) {
  if (sigmas === null || sigmas === undefined) {
    if (numKeypoints !== COCO_SIGMAS.length) {
      throw new Error('sigmas are required for K != 17 keypoints, but got ' +
                      `K = ${numKeypoints}`);
    }
    return COCO_SIGMAS;
  }
  if (!isArrayLike(sigmas) || sigmas.length !== numKeypoints) {
    throw new Error(`sigmas should have shape (${numKeypoints},), one per ` +
                    `keypoint, but got ${describe(sigmas)}`);
  }
  if (!Array.from(sigmas).every((s) => typeof s === 'number' && s > 0 &&
                                 s < Infinity)) {
    throw new Error('sigmas should be positive and finite, but got ' +
                    `[${Array.from(sigmas).join(', ')}]`);
  }
  return Array.from(sigmas);
}

/**
 * Check the poses of a public function.
 *
 * @returns {object} `{num, numKeypoints, sigmas, visible}`: `visible` the
 *   keypoints above `visThr` (null without `visThr`).
 */
function prepare(keypoints, areas, sigmas, keypointScores, visThr) {
  const { num, numKeypoints } = checkKeypoints(keypoints);
  checkVector('areas', areas, num);
  for (let i = 0; i < num; i++) {
    if (areas[i] < 0) {
      throw new Error(`areas should not be negative, but pose ${i} has ` +
                      `${areas[i]}`);
    }
  }
  const k = num ? numKeypoints : (isArrayLike(sigmas) ? sigmas.length : 17);
  const checked = checkSigmas(sigmas, k);
  if (keypointScores !== null && keypointScores !== undefined) {
    checkMatrix('keypointScores', keypointScores, num, numKeypoints,
                visThr !== null && visThr !== undefined);
  }
  let visible = null;
  if (visThr !== null && visThr !== undefined) {
    if (keypointScores === null || keypointScores === undefined) {
      throw new Error('keypointScores are required when visThr is given ' +
                      `(visThr=${visThr})`);
    }
    visible = keypointScores.map((row) => Array.from(row, (s) => s > visThr));
  }
  return { num, numKeypoints: k, sigmas: checked, visible };
}

/**
 * numpy's pairwise summation of doubles (a `sum` along a contiguous axis),
 * so that sums agree with Python's to the last bit.
 */
function pairwiseSum(values, start, n) {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[start + i];
    return res;
  }
  if (n <= 128) {
    const r = values.slice(start, start + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] += values[start + i + j];
    }
    let res = ((r[0] + r[1]) + (r[2] + r[3])) +
      ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += values[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(values, start, n2) +
    pairwiseSum(values, start + n2, n - n2);
}

/**
 * The keypoints over `sqrt(2) * 2 * sigma_k`: a squared distance of these
 * times `2 / (a_i + a_j + 2 eps)` is the OKS exponent.
 */
function scaleKeypoints(keypoints, sigmas) {
  const factors = sigmas.map((s) => Math.sqrt(8) * s);
  return keypoints.map((pose) => pose.map(
    (point, k) => [point[0] / factors[k], point[1] / factors[k]]));
}

/** OKS of poses i and j of the scaled keypoints, as the Python runtime's
 * `_pair_oks`. */
function pairOks(scaled, areas, visible, i, j, terms) {
  const a = scaled[i];
  const b = scaled[j];
  let scale = areas[i] + areas[j];
  scale += 2 * EPS;
  const factor = -2 / scale;
  const k = a.length;
  for (let c = 0; c < k; c++) {
    let dx = a[c][0] - b[c][0];
    let dy = a[c][1] - b[c][1];
    dx *= dx;
    dy *= dy;
    const exponent = Math.max((dx + dy) * factor, MIN_EXPONENT);
    terms[c] = Math.exp(exponent);
  }
  if (visible === null) return pairwiseSum(terms, 0, k) / k;
  let count = 0;
  for (let c = 0; c < k; c++) {
    const both = visible[i][c] && visible[j][c];
    if (both) count++;
    terms[c] *= both ? 1 : 0;
  }
  // no keypoint visible in both: the sum is 0, so is the OKS
  return pairwiseSum(terms, 0, k) / Math.max(count, 1);
}

/**
 * The OKS of every pair of poses, as MMPose's `oks_iou` defines it (each
 * exponent clamped at -50), as the Python runtime's `pairwise_oks`.
 *
 * @param {number[][][]} keypoints Keypoints (N, K, 2).
 * @param {number[]} areas Pose areas (N); a pair uses their mean.
 * @param {?number[]} [sigmas=null] Per-keypoint sigmas (K); null for
 *   COCO's (K must be 17).
 * @param {?number[][]} [keypointScores=null] Keypoint scores (N, K),
 *   needed with `visThr`.
 * @param {?number} [visThr=null] If given, a pair's OKS averages only the
 *   keypoints scored above it in both poses (0 if none).
 * @returns {number[][]} The symmetric OKS matrix (N, N).
 */
export function pairwiseOks(keypoints, areas, sigmas = null,
                            keypointScores = null, visThr = null) {
  checkNumber('visThr', visThr, { allowNull: true, finite: false });
  const prep = prepare(keypoints, areas, sigmas, keypointScores, visThr);
  const scaled = scaleKeypoints(keypoints, prep.sigmas);
  const terms = new Array(prep.numKeypoints).fill(0);
  const oks = [];
  for (let i = 0; i < prep.num; i++) {
    const row = [];
    for (let j = 0; j < prep.num; j++) {
      row.push(pairOks(scaled, areas, prep.visible, i, j, terms));
    }
    oks.push(row);
  }
  return oks;
}

/**
 * Check the options of {@link matrixOksNms}.
 *
 * @param {object} options As in {@link matrixOksNms}.
 */
export function checkNmsOptions({ kernel = 'gaussian', sigma = 2.0,
  scoreThr = 0.0, preTopk = -1, maxNum = -1, visThr = null } = {}) {
  if (kernel !== 'gaussian' && kernel !== 'linear') {
    throw new Error("kernel should be 'gaussian' or 'linear', but got " +
                    `${describe(kernel)}`);
  }
  if (kernel === 'gaussian') {
    checkNumber('sigma', sigma, { low: 0, lowOpen: true,
      what: 'a positive number' });
  }
  checkNumber('scoreThr', scoreThr, { finite: false });
  checkCount('preTopk', preTopk);
  checkCount('maxNum', maxNum);
  checkNumber('visThr', visThr, { allowNull: true, finite: false });
}

/**
 * Matrix-OKS-NMS over the poses of one image, as the Python runtime's
 * `matrix_oks_nms`.
 *
 * Equal scores rank the earlier input first; a zero area gives OKS 1 to
 * identical poses and 0 to any others; NaN or infinite keypoints, scores
 * or areas are refused.
 *
 * @param {number[][][]} keypoints Keypoints (N, K, 2).
 * @param {number[][]} keypointScores Keypoint scores (N, K), used with
 *   `visThr`.
 * @param {number[]} scores Pose scores (N).
 * @param {number[]} areas Pose areas (N); a pair's OKS uses their mean.
 * @param {object} [options] Options.
 * @param {?number[]} [options.sigmas=null] Per-keypoint sigmas (K); null
 *   for COCO's (K must be 17).
 * @param {string} [options.kernel='gaussian'] `'gaussian'`
 *   (`exp(-sigma x^2)`) or `'linear'` (`1 - x`).
 * @param {number} [options.sigma=2] Gaussian kernel parameter.
 * @param {number} [options.scoreThr=0] Keep poses whose decayed score is
 *   at least this.
 * @param {number} [options.preTopk=-1] Only the `preTopk` best scored
 *   poses take part; the rest get a decayed score of 0. -1 for all.
 * @param {number} [options.maxNum=-1] Keep at most this many. -1 for all.
 * @param {?number} [options.visThr=null] If given, OKS averages only the
 *   keypoints scored above it in both poses.
 * @returns {{keep: number[], decayed: number[]}} The indices of the kept
 *   poses by descending decayed score (equal ones by input order), and the
 *   decayed score of every pose in input order.
 */
export function matrixOksNms(keypoints, keypointScores, scores, areas,
                             options = {}) {
  const { sigmas = null, kernel = 'gaussian', sigma = 2.0, scoreThr = 0.0,
    preTopk = -1, maxNum = -1, visThr = null } = options;
  checkNmsOptions({ kernel, sigma, scoreThr, preTopk, maxNum, visThr });
  if (keypointScores === null || keypointScores === undefined) {
    throw new Error('keypointScores should be an array (N, K), but got ' +
                    `${keypointScores}`);
  }
  const prep = prepare(keypoints, areas, sigmas, keypointScores, visThr);
  const num = prep.num;
  checkVector('scores', scores, num);
  let order = stableDescending(Array.from(scores));
  if (preTopk > 0) order = order.slice(0, preTopk);
  const m = order.length;
  const sortedKeypoints = order.map((i) => keypoints[i]);
  const sortedAreas = order.map((i) => areas[i]);
  const sortedVisible = prep.visible === null ? null :
    order.map((i) => prep.visible[i]);
  const scaled = scaleKeypoints(sortedKeypoints, prep.sigmas);
  const terms = new Array(prep.numKeypoints).fill(0);
  // oks[i][j] for i < j, in sorted order
  const oks = [];
  const compensation = new Array(m).fill(0);
  for (let i = 0; i < m; i++) {
    const row = new Array(m).fill(0);
    for (let j = i + 1; j < m; j++) {
      row[j] = pairOks(scaled, sortedAreas, sortedVisible, i, j, terms);
      compensation[j] = Math.max(compensation[j], row[j]);
    }
    oks.push(row);
  }
  const decay = new Array(m).fill(1);
  if (kernel === 'gaussian') {
    // min_i exp(-sigma t_i) = exp(-sigma max_i t_i): one exp per pose
    for (let j = 0; j < m; j++) {
      let worst = 0;
      for (let i = 0; i < j; i++) {
        const c = compensation[i];
        worst = Math.max(worst, oks[i][j] * oks[i][j] - c * c);
      }
      decay[j] = Math.exp(-sigma * worst);
    }
  } else {
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < j; i++) {
        // f(c_i) = 0 (a duplicate of a pose above) suppresses nothing
        const c = compensation[i];
        const ratio = c < 1 ? (1 - oks[i][j]) / (1 - c) : Infinity;
        decay[j] = Math.min(decay[j], ratio);
      }
    }
  }
  const sortedDecayed = order.map((i, r) => scores[i] * decay[r]);
  const decayed = new Array(num).fill(0);
  order.forEach((i, r) => { decayed[i] = sortedDecayed[r]; });
  // stable: equal decayed scores keep the input order
  const rank = stableDescending(sortedDecayed);
  let keep = rank.filter((r) => sortedDecayed[r] >= scoreThr)
    .map((r) => order[r]);
  if (maxNum > 0) keep = keep.slice(0, maxNum);
  return { keep, decayed };
}
