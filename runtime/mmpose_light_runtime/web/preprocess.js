/**
 * Person boxes to network inputs, as MMPose's top-down test pipeline.
 *
 * A port of the Python runtime's `preprocess.py` (the spec): box to centre
 * and padded size (`GetBBoxCenterScale`), the size widened to the input's
 * aspect ratio and the bilinear affine warp (`TopdownAffine`), and the data
 * preprocessor (channel swap, `(x - mean) / std`).
 *
 * The warp matrix is computed as the Python runtime computes it (float32
 * point pairs solved in double as `cv2.getAffineTransform`, or the float32
 * closed form with UDP), and {@link warpAffine} emulates OpenCV 5.1's
 * `cv2.warpAffine(..., flags=cv2.INTER_LINEAR)` of 8-bit images, so that
 * the crops agree with the Python runtime's to within one level on about
 * one value in a hundred thousand.
 *
 * Images are canvas `ImageData`-like objects `{data, width, height}` with
 * RGBA bytes; the Python runtime works on BGR images, whose channel `b` is
 * RGBA channel `2 - b`.
 *
 * @module preprocess
 */

import { roundHalfEven } from './checks.js';

const fround = Math.fround;

function isFiniteNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

function checkPair(name, value) {
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) {
    throw new Error(`${name} should be an array of 2 numbers, but got ` +
                    `${typeof value}`);
  }
  if (value.length !== 2 || !isFiniteNumber(value[0]) ||
      !isFiniteNumber(value[1])) {
    throw new Error(`${name} should be 2 finite numbers, but got ` +
                    `[${Array.from(value).join(', ')}]`);
  }
}

function checkPositivePair(name, value) {
  checkPair(name, value);
  if (!(value[0] > 0 && value[1] > 0)) {
    throw new Error(`${name} should be 2 positive numbers, but got ` +
                    `[${Array.from(value).join(', ')}]`);
  }
}

function checkSize(name, value) {
  checkPair(name, value);
  if (!Number.isInteger(value[0]) || !Number.isInteger(value[1]) ||
      value[0] < 1 || value[1] < 1) {
    throw new Error(`${name} should be 2 positive integers (w, h), but ` +
                    `got [${Array.from(value).join(', ')}]`);
  }
}

function checkPositive(name, value) {
  if (!isFiniteNumber(value) || !(value > 0)) {
    throw new Error(`${name} should be a positive finite number, but got ` +
                    `${value}`);
  }
}

/**
 * Check a box (x1, y1, x2, y2), as the Python runtime's `check_bboxes`.
 *
 * @param {ArrayLike<number>} bbox The box.
 * @param {string} [name='bbox'] How the messages call it.
 * @throws {Error} If it is not 4 finite numbers with x2 > x1 and y2 > y1.
 */
export function checkBbox(bbox, name = 'bbox') {
  if ((!Array.isArray(bbox) && !ArrayBuffer.isView(bbox)) ||
      bbox.length !== 4) {
    throw new Error(`${name} should be (x1, y1, x2, y2), 4 numbers, but ` +
                    `got ${Array.isArray(bbox) || ArrayBuffer.isView(bbox) ?
                      `${bbox.length} values` : typeof bbox}`);
  }
  const [x1, y1, x2, y2] = bbox;
  if (![x1, y1, x2, y2].every(isFiniteNumber) || !(x2 > x1) ||
      !(y2 > y1)) {
    throw new Error(`${name} should be finite (x1, y1, x2, y2) with ` +
                    `x2 > x1 and y2 > y1, but got ` +
                    `[${Array.from(bbox).join(', ')}]`);
  }
}

/**
 * A box's centre and padded size, as MMPose's `bbox_xyxy2cs`.
 *
 * @param {ArrayLike<number>} bbox The box (x1, y1, x2, y2).
 * @param {number} [padding=1.25] Factor on the box size.
 * @returns {{center: number[], scale: number[]}} Centre (x, y) and padded
 *   size (w, h).
 */
export function bboxXyxyToCenterScale(bbox, padding = 1.25) {
  checkBbox(bbox);
  checkPositive('padding', padding);
  return {
    center: [(bbox[2] + bbox[0]) * 0.5, (bbox[3] + bbox[1]) * 0.5],
    scale: [(bbox[2] - bbox[0]) * padding, (bbox[3] - bbox[1]) * padding],
  };
}

/**
 * Widen a size (w, h) to `w / h == aspectRatio`, as `TopdownAffine`.
 *
 * @param {ArrayLike<number>} scale The size (w, h).
 * @param {number} aspectRatio The target `w / h`.
 * @returns {number[]} The widened size (w, h).
 */
export function fixAspectRatio(scale, aspectRatio) {
  checkPositivePair('scale', scale);
  checkPositive('aspectRatio', aspectRatio);
  const [w, h] = scale;
  return w > h * aspectRatio ? [w, w / aspectRatio] : [h * aspectRatio, h];
}

/**
 * The area of a pose as `CocoMetric` takes it for its NMS and OKS: the box
 * size after the padding and the aspect-ratio fix (`pose_areas`).
 *
 * @param {ArrayLike<number>} bbox The person box (x1, y1, x2, y2).
 * @param {ArrayLike<number>} inputSize The network input size (w, h).
 * @param {number} [padding=1.25] The box padding of the test pipeline.
 * @returns {number} The area, in image pixels.
 */
export function poseArea(bbox, inputSize, padding = 1.25) {
  checkSize('inputSize', inputSize);
  const { scale } = bboxXyxyToCenterScale(bbox, padding);
  const [w, h] = fixAspectRatio(scale, inputSize[0] / inputSize[1]);
  return w * h;
}

/**
 * Solve `A x = b` in place by Gaussian elimination with partial pivoting,
 * in double, as OpenCV's `LU` (used by `cv2.getAffineTransform`).
 *
 * @param {number[][]} a The m x m matrix, overwritten.
 * @param {number[]} b The right-hand side, overwritten by the solution.
 * @returns {boolean} False if the matrix is singular.
 */
function luSolve(a, b) {
  const m = b.length;
  for (let i = 0; i < m; i++) {
    let k = i;
    for (let j = i + 1; j < m; j++) {
      if (Math.abs(a[j][i]) > Math.abs(a[k][i])) k = j;
    }
    if (Math.abs(a[k][i]) < Number.EPSILON * 100) return false;
    if (k !== i) {
      [a[i], a[k]] = [a[k], a[i]];
      [b[i], b[k]] = [b[k], b[i]];
    }
    const d = -1 / a[i][i];
    for (let j = i + 1; j < m; j++) {
      const alpha = a[j][i] * d;
      for (let c = i + 1; c < m; c++) a[j][c] += alpha * a[i][c];
      b[j] += alpha * b[i];
    }
    a[i][i] = -d;  // OpenCV keeps the inverse of the pivot
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = b[i];
    for (let c = i + 1; c < m; c++) s -= a[i][c] * b[c];
    b[i] = s * a[i][i];
  }
  return true;
}

/**
 * The affine matrix from three point pairs, as `cv2.getAffineTransform`.
 *
 * @param {number[][]} src Three source points (x, y).
 * @param {number[][]} dst Three destination points (x, y).
 * @returns {number[]} The 2x3 matrix, row-major.
 */
function affineFromPoints(src, dst) {
  const a = [];
  const b = [];
  for (let i = 0; i < 3; i++) {
    a.push([src[i][0], src[i][1], 1, 0, 0, 0]);
    a.push([0, 0, 0, src[i][0], src[i][1], 1]);
    b.push(dst[i][0], dst[i][1]);
  }
  if (!luSolve(a, b)) {
    throw new Error('the warp points are degenerate (singular system)');
  }
  return b;
}

/**
 * The affine matrix from a box to the network input, without rotation, as
 * the Python runtime's `get_warp_matrix`.
 *
 * Without UDP: the float32 point pairs of MMPose's `get_warp_matrix`
 * solved as `cv2.getAffineTransform` does; with UDP: the closed form of
 * `get_udp_warp_matrix`, float32 entries.
 *
 * @param {ArrayLike<number>} center Box centre (x, y).
 * @param {ArrayLike<number>} scale Box size (w, h), at the input's aspect
 *   ratio.
 * @param {ArrayLike<number>} outputSize Input size (w, h).
 * @param {boolean} [useUdp=false] Unbiased data processing.
 * @returns {number[]} The 2x3 matrix, row-major (6 numbers), from image
 *   to crop coordinates.
 */
export function getWarpMatrix(center, scale, outputSize, useUdp = false) {
  checkPair('center', center);
  checkPositivePair('scale', scale);
  checkSize('outputSize', outputSize);
  const [dstW, dstH] = outputSize;
  if (useUdp) {
    const scaleX = (dstW - 1) / scale[0];
    const scaleY = (dstH - 1) / scale[1];
    return [
      fround(scaleX), 0, fround(scaleX * (-center[0] + 0.5 * scale[0])),
      0, fround(scaleY), fround(scaleY * (-center[1] + 0.5 * scale[1])),
    ];
  }
  // the float32 points of get_warp_matrix; the third is (a - b) turned by
  // 90 degrees around b, in float32
  const src0 = [fround(center[0]), fround(center[1])];
  const src1 = [fround(center[0] + scale[0] * -0.5), fround(center[1])];
  const dst0 = [fround(dstW * 0.5), fround(dstH * 0.5)];
  const dst1 = [fround(dst0[0] + dstW * -0.5), dst0[1]];
  const third = (p0, p1) => {
    const dx = fround(p0[0] - p1[0]);
    const dy = fround(p0[1] - p1[1]);
    return [fround(p1[0] - dy), fround(p1[1] + dx)];
  };
  return affineFromPoints([src0, src1, third(src0, src1)],
                          [dst0, dst1, third(dst0, dst1)]);
}

/**
 * Check an RGBA image `{data, width, height}`.
 *
 * @param {string} name How the messages call it.
 * @param {*} image The image.
 */
export function checkImage(name, image) {
  if (image === null || typeof image !== 'object') {
    throw new Error(`${name} should be {data, width, height} with RGBA ` +
                    `bytes (an ImageData), but got ${image}`);
  }
  const { data, width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 ||
      height < 1) {
    throw new Error(`${name} should have positive integer width and ` +
                    `height, but got ${width} x ${height}`);
  }
  if (!(data instanceof Uint8ClampedArray || data instanceof Uint8Array)) {
    throw new Error(`${name}.data should be a Uint8ClampedArray or ` +
                    `Uint8Array of RGBA bytes, but got ` +
                    `${data === null || data === undefined ? data :
                      data.constructor.name}`);
  }
  if (data.length !== width * height * 4) {
    throw new Error(`${name}.data should hold width * height * 4 = ` +
                    `${width * height * 4} RGBA bytes, but holds ` +
                    `${data.length}`);
  }
}

/**
 * Warp an RGBA image with bilinear interpolation, as OpenCV 5.1's
 * `cv2.warpAffine(image, matrix, (outW, outH), flags=cv2.INTER_LINEAR)`
 * (border constant 0).
 *
 * The matrix is inverted in double as `cv2.invertAffineTransform`. The
 * source coordinates are computed in double, and, measured against
 * OpenCV 5.1: where the inverse has no rotation or shear (the crops of
 * person boxes with UDP, and without whenever `cv2.getAffineTransform`
 * gives exact zeros off the diagonal) the interpolation weights are the
 * exact fractions of the coordinates; otherwise the coordinates are
 * rounded to float32 first. The interpolation runs in float32 with fused
 * multiply-adds as OpenCV's, rounded half to even. This agrees with OpenCV
 * on all but about 1e-5 of the values, which are off by one level.
 *
 * @param {{data: (Uint8ClampedArray|Uint8Array), width: number,
 *   height: number}} image The RGBA image (an `ImageData`).
 * @param {ArrayLike<number>} matrix The 2x3 matrix (6 numbers,
 *   row-major) from image to output coordinates.
 * @param {number} outW Output width.
 * @param {number} outH Output height.
 * @returns {{data: Uint8ClampedArray, width: number, height: number}} The
 *   RGBA crop, alpha 255.
 */
export function warpAffine(image, matrix, outW, outH) {
  checkImage('image', image);
  if ((!Array.isArray(matrix) && !ArrayBuffer.isView(matrix)) ||
      matrix.length !== 6 || !Array.from(matrix).every(isFiniteNumber)) {
    throw new Error('matrix should be 6 finite numbers (a 2x3 affine ' +
                    'matrix, row-major), but got ' +
                    `${Array.isArray(matrix) || ArrayBuffer.isView(matrix) ?
                      `[${Array.from(matrix).join(', ')}]` : matrix}`);
  }
  checkSize('[outW, outH]', [outW, outH]);
  const { data: src, width, height } = image;
  // cv2.invertAffineTransform, in double
  let [m0, m1, m2, m3, m4, m5] = matrix;
  let det = m0 * m4 - m1 * m3;
  det = det !== 0 ? 1 / det : 0;
  const a11 = m4 * det;
  const a22 = m0 * det;
  m1 *= -det;
  m3 *= -det;
  const b1 = -a11 * m2 - m1 * m5;
  const b2 = -m3 * m2 - a22 * m5;
  // no rotation or shear: exact fractions; else float32 coordinates
  const exact = m1 === 0 && m3 === 0;
  const out = new Uint8ClampedArray(outW * outH * 4);
  const rowStride = width * 4;
  for (let y = 0; y < outH; y++) {
    const x0 = y * m1 + b1;
    const y0 = y * a22 + b2;
    for (let x = 0; x < outW; x++) {
      const o = (y * outW + x) * 4;
      out[o + 3] = 255;
      let sx = a11 * x + x0;
      let sy = m3 * x + y0;
      if (!exact) {
        sx = fround(sx);
        sy = fround(sy);
      }
      const ix = Math.floor(sx);
      const iy = Math.floor(sy);
      if (!(ix >= -1 && ix <= width - 1 && iy >= -1 && iy <= height - 1)) {
        continue;  // border value 0
      }
      const fx = fround(sx - ix);
      const fy = fround(sy - iy);
      const inX0 = ix >= 0;
      const inX1 = ix + 1 < width;
      const inY0 = iy >= 0;
      const inY1 = iy + 1 < height;
      const p = iy * rowStride + ix * 4;
      for (let c = 0; c < 3; c++) {
        const p00 = inY0 && inX0 ? src[p + c] : 0;
        const p01 = inY0 && inX1 ? src[p + 4 + c] : 0;
        const p10 = inY1 && inX0 ? src[p + rowStride + c] : 0;
        const p11 = inY1 && inX1 ? src[p + rowStride + 4 + c] : 0;
        // float32 fused multiply-adds: one rounding each
        const v0 = fround(p00 + fx * (p01 - p00));
        const v1 = fround(p10 + fx * (p11 - p10));
        const v = fround(v0 + fy * fround(v1 - v0));
        out[o + c] = roundHalfEven(v);
      }
    }
  }
  return { data: out, width: outW, height: outH };
}

/**
 * Write one crop as a planar float32 network input (3, h, w), as the
 * Python runtime's `normalize_crops` (MMPose's data preprocessor).
 *
 * The Python runtime works on BGR crops: its input channel `c` is BGR
 * channel `swapChannels ? 2 - c : c`, and `mean[c]`, `std[c]` apply to it
 * after the swap; `(value - mean) / std` is computed in float32.
 *
 * @param {{data: (Uint8ClampedArray|Uint8Array), width: number,
 *   height: number}} crop The RGBA crop.
 * @param {?ArrayLike<number>} mean Per-channel mean after the swap; null
 *   for the raw values.
 * @param {?ArrayLike<number>} std Per-channel std after the swap.
 * @param {boolean} swapChannels Reverse the channels (BGR to RGB) first.
 * @param {Float32Array} out Where to write.
 * @param {number} [offset=0] The index in `out` of the crop's first value.
 * @returns {Float32Array} `out`.
 */
export function normalizeCrop(crop, mean, std, swapChannels, out,
                              offset = 0) {
  checkImage('crop', crop);
  const { data, width, height } = crop;
  const plane = width * height;
  if (!(out instanceof Float32Array)) {
    throw new Error('out should be a Float32Array, but got ' +
                    `${out === null || out === undefined ? out :
                      out.constructor.name}`);
  }
  if (!Number.isInteger(offset) || offset < 0 ||
      offset + 3 * plane > out.length) {
    throw new Error(`out (length ${out.length}) has no room for a ` +
                    `(3, ${height}, ${width}) input at offset ${offset}`);
  }
  let m = null;
  let s = null;
  if (mean !== null && mean !== undefined) {
    for (const [name, value] of [['mean', mean], ['std', std]]) {
      if ((!Array.isArray(value) && !ArrayBuffer.isView(value)) ||
          value.length !== 3 || !Array.from(value).every(isFiniteNumber)) {
        throw new Error(`${name} should be 3 finite numbers, but got ` +
                        `${value}`);
      }
    }
    m = Array.from(mean, fround);
    s = Array.from(std, fround);
  }
  for (let c = 0; c < 3; c++) {
    // BGR channel (swap ? 2 - c : c) is RGBA channel 2 - that
    const rgba = swapChannels ? c : 2 - c;
    const base = offset + c * plane;
    if (m === null) {
      for (let i = 0; i < plane; i++) out[base + i] = data[i * 4 + rgba];
      continue;
    }
    const mc = m[c];
    const sc = s[c];
    for (let i = 0; i < plane; i++) {
      out[base + i] = fround(data[i * 4 + rgba] - mc) / sc;
    }
  }
  return out;
}
