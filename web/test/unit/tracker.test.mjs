// tracker.js against the Python runtime's tracker.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  PoseTracker, bboxesFromPoses, boxIou,
} from '../../../runtime/mmpose_light_runtime/web/tracker.js';
import { assertClose, flat, loadFixture } from './fixtures.mjs';

const fixture = loadFixture('tracker.json');

function camel(options) {
  const out = {};
  for (const [key, value] of Object.entries(options)) {
    out[key.replace(/_(.)/g, (m, c) => c.toUpperCase())] = value;
  }
  return out;
}

for (const sequence of fixture.sequences) {
  test(`track ids with ${JSON.stringify(sequence.options)}`, () => {
    const tracker = new PoseTracker(camel(sequence.options));
    fixture.frames.forEach((frame, i) => {
      const result = structuredClone(frame);
      const out = tracker.update(result);
      assert.equal(out, result, 'update returns its argument');
      assert.deepEqual(out.trackIds, sequence.track_ids[i], `frame ${i}`);
    });
    // reset forgets the tracks: ids start at 0 again
    tracker.reset();
    const first = tracker.update(structuredClone(fixture.frames[0]));
    assert.deepEqual(first.trackIds, sequence.track_ids[0]);
  });
}

test('track ids with custom sigmas', () => {
  const c = fixture.sigma_sequence;
  const tracker = new PoseTracker({ sigmas: c.sigmas });
  c.frames.forEach((frame, i) => {
    assert.deepEqual(tracker.update(structuredClone(frame)).trackIds,
                     c.track_ids[i], `frame ${i}`);
  });
});

test('the tracker keeps its own copies of the poses', () => {
  const tracker = new PoseTracker();
  const frame = structuredClone(fixture.frames[0]);
  tracker.update(frame);
  frame.keypoints[0][0][0] += 1000;
  frame.bboxes[0][0] += 1000;
  const again = tracker.update(structuredClone(fixture.frames[0]));
  assert.deepEqual(again.trackIds, fixture.sequences[0].track_ids[0]);
});

test('boxes from poses', () => {
  for (const c of fixture.bboxes_from_poses) {
    const boxes = bboxesFromPoses(c.result, c.kpt_thr, c.padding,
                                  c.max_resize);
    assertClose(flat(boxes), flat(c.expected), 1e-9, 'boxes');
  }
});

test('box IoU', () => {
  const c = fixture.box_iou;
  assertClose(flat(boxIou(c.a, c.b)), flat(c.expected), 1e-12, 'IoU');
});

test('bad input is refused with a clear message', () => {
  assert.throws(() => new PoseTracker({ oksThr: 2 }),
                /oksThr should be a number in \[0, 1\], but got 2/);
  assert.throws(() => new PoseTracker({ iouThr: -0.1 }),
                /iouThr should be a number in \[0, 1\]/);
  assert.throws(() => new PoseTracker({ maxAge: 0 }),
                /maxAge should be an int >= 1, but got 0/);
  const tracker = new PoseTracker();
  const frame = structuredClone(fixture.frames[0]);
  frame.areas.pop();
  assert.throws(() => tracker.update(frame),
                /result.areas has \d+ rows, result.keypoints has \d+/);
  assert.throws(() => tracker.update({ keypoints: [] }),
                /result.keypointScores should be an array/);
  const boxes = structuredClone(fixture.frames[0]);
  boxes.bboxes[0] = [1, 2, 3];
  assert.throws(() => tracker.update(boxes),
                /result.bboxes should have shape \(N, 4\)/);
  tracker.update(structuredClone(fixture.frames[0]));
  const short = structuredClone(fixture.frames[1]);
  short.keypoints[0] = short.keypoints[0].slice(0, 5);
  assert.throws(() => tracker.update(short),
                /pose 0 has 5 keypoints, the tracks have 17/);
  assert.throws(() => boxIou([[1, 2, 3]], []),
                /a should be boxes of shape \(N, 4\)/);
  assert.throws(() => bboxesFromPoses(fixture.frames[0], 'x'),
                /kptThr should be a number/);
});
