// smoothing.js against the Python runtime's smoothing.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DEFAULT_SMOOTHING, PoseSmoother, oneEuroStep,
} from '../../../runtime/mmpose_light_runtime/web/smoothing.js';
import { assertClose, flat, loadFixture } from './fixtures.mjs';

const fixture = loadFixture('smoothing.json');

test('the defaults are those of the Python runtime', () => {
  assert.deepEqual({ ...DEFAULT_SMOOTHING }, fixture.defaults);
});

for (const sequence of fixture.sequences) {
  test(`smoothed keypoints with ${JSON.stringify(sequence.options)}`, () => {
    const smoother = new PoseSmoother(sequence.options);
    fixture.frames.forEach((frame, i) => {
      const before = structuredClone(frame);
      const out = smoother.update(frame, fixture.timestamps[i]);
      assertClose(flat(out.keypoints), flat(sequence.smoothed[i]), 1e-6,
                  `frame ${i}`);
      assert.deepEqual(frame, before, 'the input is left unchanged');
      assert.equal(out.trackIds, frame.trackIds, 'other fields are shared');
    });
  });
}

test('one-euro steps', () => {
  for (const c of fixture.one_euro_steps) {
    const { x, dx } = oneEuroStep(c.x, c.x_prev, c.dx_prev, c.dt, 0.5, 2.0,
                                  1.0, c.scale);
    assertClose(flat(x), flat(c.expected_x), 1e-12, 'x');
    assertClose(flat(dx), flat(c.expected_dx), 1e-12, 'dx');
  }
});

test('reset starts a new video', () => {
  const smoother = new PoseSmoother();
  smoother.update(fixture.frames[0], 1.0);
  assert.throws(() => smoother.update(fixture.frames[1], 0.5),
                /timestamp 0.5 should be after the previous frame's 1/);
  smoother.reset();
  const out = smoother.update(fixture.frames[1], 0.5);
  assert.deepEqual(out.keypoints, fixture.frames[1].keypoints);
});

test('bad input is refused with a clear message', () => {
  assert.throws(() => new PoseSmoother({ minCutoff: 0 }),
                /minCutoff should be a positive number, but got number 0/);
  assert.throws(() => new PoseSmoother({ beta: -1 }),
                /beta should be a non-negative number/);
  assert.throws(() => new PoseSmoother({ fps: NaN }),
                /fps should be a positive number/);
  const smoother = new PoseSmoother();
  const frame = structuredClone(fixture.frames[0]);
  frame.trackIds = frame.trackIds.map(() => 3);
  assert.throws(() => smoother.update(frame),
                /track ids \[3, 3, 3, 3\] repeat in a frame/);
  assert.throws(() => smoother.update(fixture.frames[0], 'soon'),
                /timestamp should be a finite number, but got string "soon"/);
  const bad = structuredClone(fixture.frames[0]);
  bad.keypointScores.pop();
  assert.throws(() => smoother.update(bad),
                /result.keypointScores should have one row per pose/);
  smoother.update(fixture.frames[0], 10);
  const fewer = structuredClone(fixture.frames[1]);
  fewer.keypoints = fewer.keypoints.map((p) => p.slice(0, 2));
  fewer.keypointScores = fewer.keypointScores.map((p) => p.slice(0, 2));
  assert.throws(() => smoother.update(fewer, 11),
                /track \d+ has 2 keypoints, but had 6/);
});
