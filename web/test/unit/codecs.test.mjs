// codecs.js against the Python runtime's codecs.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  decodeOutputs, gaussianKernel, mergeFlippedOutputs, rescorePoses,
} from '../../../runtime/mmpose_light_runtime/web/codecs.js';
import { assertClose, decodeArray, loadFixture } from './fixtures.mjs';

const fixture = loadFixture('codecs.json');

function checkDecoded(result, expected, name) {
  const keypoints = decodeArray(expected.keypoints);
  const scores = decodeArray(expected.scores);
  assert.equal(result.N, keypoints.dims[0], `${name}: N`);
  assert.equal(result.K, keypoints.dims[1], `${name}: K`);
  assert.ok(result.keypoints instanceof Float32Array, `${name}: keypoints`);
  assert.ok(result.scores instanceof Float32Array, `${name}: scores`);
  assertClose(result.keypoints, keypoints.data, 1e-3, `${name}: keypoints`);
  assertClose(result.scores, scores.data, 1e-5, `${name}: scores`);
}

for (const c of fixture.decode) {
  test(`decode ${c.name}`, () => {
    const outputs = c.outputs.map(decodeArray);
    checkDecoded(decodeOutputs(outputs, c.meta, c.merged), c.expected,
                 c.name);
  });
}

test('outputs as plain arrays decode as Float32Arrays', () => {
  const c = fixture.decode[0];
  const outputs = c.outputs.map(decodeArray).map(
    (t) => ({ data: Array.from(t.data), dims: t.dims }));
  checkDecoded(decodeOutputs(outputs, c.meta), c.expected, c.name);
});

test('the Gaussian kernels are those of cv2.getGaussianKernel', () => {
  assert.deepEqual(Array.from(gaussianKernel(11)), [
    0.00881222914904356, 0.027143577113747597, 0.06511405855417252,
    0.12164907157421112, 0.17699836194515228, 0.2005654126405716,
    0.17699836194515228, 0.12164907157421112, 0.06511405855417252,
    0.027143577113747597, 0.00881222914904356]);
  assert.deepEqual(Array.from(gaussianKernel(9)), [
    0.015625, 0.05078125, 0.1171875, 0.19921875, 0.234375, 0.19921875,
    0.1171875, 0.05078125, 0.015625]);
});

for (const c of fixture.merge) {
  test(`flip merge ${c.name}`, () => {
    const outputs = c.outputs.map(decodeArray);
    const flipped = c.flipped.map(decodeArray);
    const merged = mergeFlippedOutputs(outputs, flipped, c.meta);
    assert.equal(merged.length, c.merged.length);
    merged.forEach((m, i) => {
      const expected = decodeArray(c.merged[i]);
      assert.deepEqual(m.dims, expected.dims);
      assertClose(m.data, expected.data, 1e-6, `${c.name}: merged ${i}`);
    });
    checkDecoded(decodeOutputs(merged, c.meta, true), c.expected, c.name);
  });
}

test('rescoring one pose at a time', () => {
  for (const c of fixture.rescore) {
    for (const e of c.expected) {
      c.keypoint_scores.forEach((scores, i) => {
        const score = rescorePoses(scores, c.bbox_scores[i], e.mode, e.thr);
        assertClose([score], [e.scores[i]], 1e-7,
                    `${e.mode} thr ${e.thr} K ${scores.length} pose ${i}`);
      });
    }
  }
});

test('unsupported codecs and bad outputs are refused clearly', () => {
  const heatmaps = { data: new Float32Array(2 * 3 * 4), dims: [1, 2, 3, 4] };
  const msra = { codec: { type: 'MSRAHeatmap', input_size: [16, 12],
                          heatmap_size: [4, 3] } };
  assert.throws(() => decodeOutputs([heatmaps],
                                    { codec: { type: 'UDPHeatmap' } }),
                /UDPHeatmap is not supported in the page/);
  assert.throws(() => decodeOutputs(
    [{ data: new Float32Array(4), dims: [1, 2, 2] },
      { data: new Float32Array(4), dims: [1, 2, 2] }],
    { codec: { type: 'SimCCLabel', use_dark: true } }),
  /SimCCLabel with use_dark=true is not supported in the page/);
  assert.throws(() => decodeOutputs([heatmaps], { codec: { type: 'Foo' } }),
                /unsupported codec "Foo"/);
  assert.throws(() => decodeOutputs([heatmaps], {}),
                /meta should be the model metadata, with a codec/);
  assert.throws(() => decodeOutputs(
    [{ data: new Float32Array(5), dims: [1, 2, 3, 4] }], msra),
  /heatmaps of shape \(1, 2, 3, 4\) should hold 24 values, but holds 5/);
  assert.throws(() => decodeOutputs(
    [{ data: new Float32Array(6), dims: [2, 3] }], msra),
  /heatmaps should have 4 dimensions, but has shape \(2, 3\)/);
  assert.throws(() => decodeOutputs([], msra),
                /outputs should have 1 tensor\(s\), but has 0/);
  assert.throws(() => decodeOutputs(
    [{ data: new Float32Array(6), dims: [1, 2, 3] }],
    { codec: { type: 'RegressionLabel', input_size: [4, 4] } }),
  new RegExp('regression output should have shape \\(N, K, 2\\) or ' +
             '\\(N, K, 4\\), but got \\(1, 2, 3\\)'));
  assert.throws(() => decodeOutputs([heatmaps], {
    codec: { ...msra.codec, unbiased: true, blur_kernel_size: 4 } }),
  /blur_kernel_size should be an odd integer >= 3, but got 4/);
  assert.throws(() => decodeOutputs([heatmaps], {
    codec: { ...msra.codec, heatmap_size: [4] } }),
  /codec.heatmap_size should be \(w, h\)/);
  assert.throws(() => mergeFlippedOutputs([heatmaps], [heatmaps], msra),
                /flip test needs the keypoint flip_indices/);
  assert.throws(() => mergeFlippedOutputs([heatmaps], [heatmaps], {
    ...msra, dataset_meta: { flip_indices: [0, 2] } }),
  /flip_indices should be 2 indices in \[0, 2\), but got \[0,2\]/);
  assert.throws(() => mergeFlippedOutputs([heatmaps], [heatmaps], {
    ...msra, dataset_meta: { flip_indices: [1, 0] },
    test_cfg: { flip_mode: 'offset' } }),
  /flip_mode "offset" is not supported in the page/);
  assert.throws(() => mergeFlippedOutputs(
    [heatmaps], [{ data: new Float32Array(24), dims: [1, 2, 4, 3] }], {
      ...msra, dataset_meta: { flip_indices: [1, 0] } }),
  new RegExp('outputs\\[0\\] \\(1, 2, 3, 4\\) and flipped\\[0\\] ' +
             '\\(1, 2, 4, 3\\) should have the same shape'));
  assert.throws(() => rescorePoses([], 1),
                /keypointScores should be a non-empty array/);
  assert.throws(() => rescorePoses([0.5], 1, 'mean'),
                /unsupported score mode "mean"/);
  assert.throws(() => rescorePoses([0.5], '1'), /bboxScore should be a number/);
});
