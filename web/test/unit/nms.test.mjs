// nms.js against the Python runtime's nms.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  COCO_SIGMAS, matrixOksNms, pairwiseOks,
} from '../../../runtime/mmpose_light_runtime/web/nms.js';
import { assertClose, flat, loadFixture } from './fixtures.mjs';

const fixture = loadFixture('nms.json');

test('COCO sigmas', () => {
  assert.deepEqual(Array.from(COCO_SIGMAS), fixture.coco_sigmas);
});

for (const c of fixture.matrix_nms) {
  test(`matrix OKS NMS: ${c.name}`, () => {
    const options = {
      sigmas: c.sigmas,
      kernel: c.options.kernel,
      sigma: c.options.sigma,
      scoreThr: c.options.score_thr,
      preTopk: c.options.pre_topk,
      maxNum: c.options.max_num,
      visThr: c.options.vis_thr,
    };
    for (const key of Object.keys(options)) {
      if (options[key] === undefined) delete options[key];
    }
    const { keep, decayed } = matrixOksNms(c.keypoints, c.keypoint_scores,
                                           c.scores, c.areas, options);
    assert.deepEqual(keep, c.keep, 'keep');
    assertClose(decayed, c.decayed, 0, 'decayed scores', 1e-9);
  });
}

for (const c of fixture.pairwise_oks) {
  test(`pairwise OKS: ${c.name}`, () => {
    const oks = pairwiseOks(c.keypoints, c.areas, c.sigmas,
                            c.keypoint_scores, c.vis_thr);
    assert.equal(oks.length, c.oks.length);
    assertClose(flat(oks), flat(c.oks), 0, 'OKS', 1e-9);
  });
}

test('bad input is refused with a clear message', () => {
  const kpts = [[[0, 0], [1, 1]], [[2, 2], [3, 3]]];
  const scores = [[1, 1], [1, 1]];
  const sigmas = [0.1, 0.1];
  const run = (overrides = {}, options = {}) => {
    const a = { keypoints: kpts, keypointScores: scores, scores: [1, 0.5],
      areas: [10, 10], ...overrides };
    return matrixOksNms(a.keypoints, a.keypointScores, a.scores, a.areas,
                        { sigmas, ...options });
  };
  assert.throws(() => run({ keypoints: [[[0, 0, 0]]] }),
                /keypoints should have shape \(N, K, 2\)/);
  assert.throws(() => run({ keypoints: [[[0, 0]], [[1, 1], [2, 2]]] }),
                /keypoints should have shape \(N, K, 2\).*pose 1/);
  assert.throws(() => run({ keypoints: [[[0, NaN], [1, 1]], kpts[1]] }),
                /keypoints should be finite, but pose 0 has \[0, NaN\]/);
  assert.throws(() => run({ scores: [1] }),
                /scores should have shape \(2,\)/);
  assert.throws(() => run({ scores: [1, Infinity] }),
                /scores should be finite, but pose 1 has Infinity/);
  assert.throws(() => run({ areas: [10, -1] }),
                /areas should not be negative, but pose 1 has -1/);
  assert.throws(() => run({ keypointScores: [[1, 1]] }),
                /keypointScores should have shape \(2, 2\)/);
  assert.throws(() => run({ keypointScores: null }),
                /keypointScores should be an array/);
  assert.throws(() => run({}, { kernel: 'box' }),
                /kernel should be 'gaussian' or 'linear'/);
  assert.throws(() => run({}, { sigma: 0 }),
                /sigma should be a positive number, but got number 0/);
  assert.throws(() => run({}, { preTopk: 0 }),
                /preTopk should be -1 or a positive int, but got number 0/);
  assert.throws(() => run({}, { maxNum: 1.5 }),
                /maxNum should be -1 or a positive int/);
  assert.throws(() => run({}, { sigmas: [0.1] }),
                /sigmas should have shape \(2,\)/);
  assert.throws(() => run({}, { sigmas: [0.1, 0] }),
                /sigmas should be positive and finite/);
  assert.throws(() => run({}, { sigmas: null }),
                /sigmas are required for K != 17 keypoints, but got K = 2/);
  assert.throws(() => pairwiseOks(kpts, [1, 1], sigmas, null, 0.5),
                /keypointScores are required when visThr is given/);
  assert.throws(() => pairwiseOks(kpts, [1, 1], sigmas, scores, 'high'),
                /visThr should be a number or null/);
});
