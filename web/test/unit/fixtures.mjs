/**
 * Reading the fixtures that `tests/test_web/fixtures.py` writes with the
 * Python runtime, and comparing JavaScript results with them.
 *
 * The fixtures live in the folder named by the environment variable
 * `MMPOSE_LIGHT_WEB_FIXTURES`; `tests/test_web/test_node_units.py` writes
 * them and runs these tests.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

const VARIABLE = 'MMPOSE_LIGHT_WEB_FIXTURES';

/**
 * The fixtures folder.
 *
 * @returns {string} The folder.
 * @throws {Error} If the environment variable is not set.
 */
export function fixturesDir() {
  const dir = process.env[VARIABLE];
  if (!dir) {
    throw new Error(
      `${VARIABLE} is not set: it should name a folder written by ` +
      'tests/test_web/fixtures.py write_fixtures(folder); run ' +
      '`.venv/bin/python -m pytest tests/test_web/test_node_units.py`, ' +
      'which writes them and runs these tests');
  }
  return dir;
}

/**
 * Read a JSON fixture file.
 *
 * @param {string} name The file name, e.g. `'nms.json'`.
 * @returns {*} Its content.
 */
export function loadFixture(name) {
  return JSON.parse(readFileSync(join(fixturesDir(), name), 'utf8'));
}

const TYPES = {
  uint8: Uint8Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/**
 * Decode an array written by `encode_array`.
 *
 * @param {{dtype: string, shape: number[], zlib_b64: string}} encoded
 *   It: the zlib-compressed little-endian bytes, base64-encoded.
 * @returns {{data: ArrayLike<number>, dims: number[]}} A tensor.
 */
export function decodeArray(encoded) {
  const Type = TYPES[encoded.dtype];
  assert.ok(Type, `unknown dtype ${encoded.dtype}`);
  const bytes = inflateSync(Buffer.from(encoded.zlib_b64, 'base64'));
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return { data: new Type(copy.buffer), dims: encoded.shape };
}

/**
 * Nested arrays from a flat array and its shape.
 *
 * @param {ArrayLike<number>} data Values, row-major.
 * @param {number[]} dims The shape.
 * @returns {*} Nested arrays of numbers.
 */
export function nest(data, dims) {
  if (dims.length <= 1) return Array.from(data);
  const step = dims.slice(1).reduce((a, b) => a * b, 1);
  const out = [];
  for (let i = 0; i < dims[0]; i++) {
    out.push(nest(Array.prototype.slice.call(data, i * step, (i + 1) * step),
                  dims.slice(1)));
  }
  return out;
}

/**
 * The sample image as RGBA, as a canvas gives it.
 *
 * @returns {{data: Uint8ClampedArray, width: number, height: number}} It.
 */
export function loadImage() {
  const meta = loadFixture('image.json');
  const bytes = inflateSync(readFileSync(join(fixturesDir(), meta.file)));
  return {
    data: new Uint8ClampedArray(bytes.buffer, bytes.byteOffset,
                                bytes.length),
    width: meta.width,
    height: meta.height,
  };
}

/**
 * BGR bytes (H, W, 3) as an RGBA image.
 *
 * @param {{data: ArrayLike<number>, dims: number[]}} bgr The image.
 * @returns {{data: Uint8ClampedArray, width: number, height: number}} It.
 */
export function bgrToImage(bgr) {
  const [height, width] = bgr.dims;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4] = bgr.data[i * 3 + 2];
    data[i * 4 + 1] = bgr.data[i * 3 + 1];
    data[i * 4 + 2] = bgr.data[i * 3];
    data[i * 4 + 3] = 255;
  }
  return { data, width, height };
}

/**
 * Compare an RGBA image with BGR bytes.
 *
 * @param {{data: ArrayLike<number>, width: number, height: number}} image
 *   The RGBA image.
 * @param {{data: ArrayLike<number>, dims: number[]}} bgr The expected BGR
 *   bytes (H, W, 3).
 * @returns {{maxDiff: number, differing: number, total: number}} The
 *   largest difference of a value and how many values differ.
 */
export function compareToBgr(image, bgr) {
  const [height, width] = bgr.dims;
  assert.equal(image.width, width, 'width');
  assert.equal(image.height, height, 'height');
  let maxDiff = 0;
  let differing = 0;
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const diff = Math.abs(image.data[i * 4 + 2 - c] - bgr.data[i * 3 + c]);
      if (diff) differing++;
      maxDiff = Math.max(maxDiff, diff);
    }
    assert.equal(image.data[i * 4 + 3], 255, 'alpha');
  }
  return { maxDiff, differing, total: width * height * 3 };
}

/**
 * Assert that two arrays of numbers agree, NaN equal to NaN.
 *
 * @param {ArrayLike<number>} actual JavaScript's.
 * @param {ArrayLike<number>} expected Python's.
 * @param {number} atol Absolute tolerance.
 * @param {string} what Named in the message.
 * @param {number} [rtol=0] Relative tolerance, on top.
 */
export function assertClose(actual, expected, atol, what, rtol = 0) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const ok = Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) {
      assert.fail(`${what}: element ${i} is ${a}, Python has ${e} ` +
                  `(difference ${a - e}, tolerance ${atol} + ${rtol} * |e|)`);
    }
  }
}

/**
 * Flatten nested arrays of numbers.
 *
 * @param {*} value Nested arrays.
 * @returns {number[]} The numbers, row-major.
 */
export function flat(value) {
  return Array.isArray(value) || ArrayBuffer.isView(value) ?
    Array.from(value).flatMap((v) => flat(v)) : [value];
}
