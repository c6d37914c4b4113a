// preprocess.js against the Python runtime's preprocess.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  bboxXyxyToCenterScale, fixAspectRatio, getWarpMatrix, normalizeCrop,
  poseArea, warpAffine,
} from '../../../runtime/mmpose_light_runtime/web/preprocess.js';
import {
  assertClose, bgrToImage, compareToBgr, decodeArray, loadFixture,
  loadImage,
} from './fixtures.mjs';

const fixture = loadFixture('preprocess.json');
const image = loadImage();

test('box to centre, scale, area', () => {
  for (const c of fixture.warps) {
    const { center, scale } = bboxXyxyToCenterScale(c.bbox, c.padding);
    assertClose(center, c.center, 1e-12, 'center');
    assertClose(scale, c.scale, 1e-12, 'scale');
    const fixed = fixAspectRatio(scale, c.input_size[0] / c.input_size[1]);
    assertClose(fixed, c.fixed_scale, 1e-12, 'fixed scale');
    assertClose([poseArea(c.bbox, c.input_size, c.padding)], [c.area],
                0, 'area', 1e-12);
  }
});

test('warp matrices are those of get_warp_matrix', () => {
  for (const c of fixture.warps) {
    const matrix = getWarpMatrix(c.center, c.fixed_scale, c.input_size,
                                 c.use_udp);
    // the same float32 points, solved in double: OpenCV 5.1's solver
    // rounds otherwise in the last bits; with UDP, bit for bit
    if (c.use_udp) {
      assert.deepEqual(matrix, c.matrix, `bbox ${c.bbox}`);
    } else {
      assertClose(matrix, c.matrix, 1e-12, `matrix of bbox ${c.bbox}`,
                  1e-12);
    }
  }
});

/** Accumulate the crop agreement; assert the accepted level. */
function checkCrops(cases, warp) {
  let differing = 0;
  let total = 0;
  let maxDiff = 0;
  for (const c of cases) {
    const crop = warp(c);
    const stats = compareToBgr(crop, decodeArray(c.crop_bgr));
    differing += stats.differing;
    total += stats.total;
    maxDiff = Math.max(maxDiff, stats.maxDiff);
  }
  assert.ok(maxDiff <= 1, `a crop value is off by ${maxDiff} levels`);
  assert.ok(differing / total < 1e-3,
            `${differing} of ${total} crop values differ`);
  return { maxDiff, differing, total };
}

for (const useUdp of [false, true]) {
  test(`crops match cv2.warpAffine (useUdp=${useUdp})`, (t) => {
    const cases = fixture.warps.filter((c) => c.use_udp === useUdp);
    const stats = checkCrops(cases, (c) => {
      const matrix = getWarpMatrix(c.center, c.fixed_scale, c.input_size,
                                   useUdp);
      return warpAffine(image, matrix, c.input_size[0], c.input_size[1]);
    });
    t.diagnostic(`max diff ${stats.maxDiff}, ${stats.differing} of ` +
                 `${stats.total} values differ`);
  });
}

test('warps with rotation and shear match cv2.warpAffine', (t) => {
  const stats = checkCrops(fixture.affine, (c) =>
    warpAffine(image, c.matrix, c.size[0], c.size[1]));
  t.diagnostic(`max diff ${stats.maxDiff}, ${stats.differing} of ` +
               `${stats.total} values differ`);
});

test('normalisation is bit for bit that of normalize_crops', () => {
  const crop = bgrToImage(decodeArray(fixture.normalize.crop_bgr));
  const plane = crop.width * crop.height;
  for (const c of fixture.normalize.cases) {
    const out = new Float32Array(3 * plane + 5);
    out.fill(-7);
    normalizeCrop(crop, c.mean, c.std, c.swap_channels, out, 5);
    const expected = decodeArray(c.expected).data;
    assert.deepEqual(Array.from(out.subarray(5)), Array.from(expected),
                     `mean ${c.mean} swap ${c.swap_channels}`);
    assert.deepEqual(Array.from(out.subarray(0, 5)), [-7, -7, -7, -7, -7]);
  }
});

test('bad input is refused with a clear message', () => {
  assert.throws(() => bboxXyxyToCenterScale([0, 0, 10]),
                /bbox should be \(x1, y1, x2, y2\), 4 numbers/);
  assert.throws(() => bboxXyxyToCenterScale([5, 0, 1, 10]),
                /x2 > x1 and y2 > y1, but got \[5, 0, 1, 10\]/);
  assert.throws(() => bboxXyxyToCenterScale([0, 0, NaN, 10]),
                /bbox should be finite/);
  assert.throws(() => fixAspectRatio([0, 1], 1), /scale should be 2 positive/);
  assert.throws(() => fixAspectRatio([1, 1], -1), /aspectRatio should be/);
  assert.throws(() => poseArea([0, 0, 1, 1], [0, 5]),
                /inputSize should be 2 positive integers/);
  assert.throws(() => getWarpMatrix([1, 2], [3, 4], [1.5, 2]),
                /outputSize should be 2 positive integers/);
  assert.throws(() => getWarpMatrix([1], [3, 4], [2, 2]),
                /center should be 2 finite numbers/);
  assert.throws(() => warpAffine({ data: new Uint8Array(10), width: 2,
                                   height: 2 }, [1, 0, 0, 0, 1, 0], 2, 2),
                /image.data should hold width \* height \* 4 = 16/);
  assert.throws(() => warpAffine({ data: [1, 2, 3, 4], width: 1,
                                   height: 1 }, [1, 0, 0, 0, 1, 0], 2, 2),
                /Uint8ClampedArray or Uint8Array/);
  assert.throws(() => warpAffine(image, [1, 0, 0, 0, 1], 2, 2),
                /matrix should be 6 finite numbers/);
  assert.throws(() => warpAffine(image, [1, 0, 0, 0, 1, 0], 0, 2),
                /\[outW, outH\] should be 2 positive integers/);
  const crop = { data: new Uint8ClampedArray(16), width: 2, height: 2 };
  assert.throws(() => normalizeCrop(crop, null, null, false,
                                    new Float32Array(11)),
                /out \(length 11\) has no room for a \(3, 2, 2\) input/);
  assert.throws(() => normalizeCrop(crop, [1, 2], [1, 2, 3], false,
                                    new Float32Array(12)),
                /mean should be 3 finite numbers/);
  assert.throws(() => normalizeCrop(crop, null, null, false, [0]),
                /out should be a Float32Array/);
});
