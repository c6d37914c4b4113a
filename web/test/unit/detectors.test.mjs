// detectors.js against the Python runtime's detectors.py and cv2.resize.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  boxNms, clipBoxes, detectorCandidates, letterbox, resizeBilinear,
} from '../../../runtime/mmpose_light_runtime/web/detectors.js';
import {
  assertClose, compareToBgr, decodeArray, flat, loadFixture, loadImage,
} from './fixtures.mjs';

const fixture = loadFixture('detectors.json');
const image = loadImage();

/** The part of the sample image that a case resizes. */
function subImage(c) {
  const [x0, y0] = c.offset;
  const [width, height] = c.size;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * image.width + x0) * 4;
    data.set(image.data.subarray(from, from + width * 4), y * width * 4);
  }
  return { data, width, height };
}

test('resize matches cv2.resize(INTER_LINEAR)', (t) => {
  let differing = 0;
  let total = 0;
  let maxDiff = 0;
  for (const c of fixture.letterbox) {
    const expected = decodeArray(c.resized_bgr);
    const [height, width] = expected.dims;
    const resized = resizeBilinear(subImage(c), width, height);
    const stats = compareToBgr(resized, expected);
    t.diagnostic(`${c.image} ${c.size.join('x')} -> ${width}x${height}: ` +
                 `max diff ${stats.maxDiff}, ${stats.differing} of ` +
                 `${stats.total} values differ`);
    differing += stats.differing;
    total += stats.total;
    maxDiff = Math.max(maxDiff, stats.maxDiff);
  }
  t.diagnostic(`all: max diff ${maxDiff}, ${differing} of ${total} ` +
               `(${(differing / total).toExponential(2)}) values differ`);
  assert.ok(maxDiff <= 1, `a value is off by ${maxDiff} levels`);
  assert.ok(differing / total < 1e-3, `${differing} of ${total} differ`);
});

test('letterbox matches OnnxDetector.preprocess', () => {
  for (const c of fixture.letterbox) {
    const s = c.settings;
    const { input, scale } = letterbox(subImage(c), c.input_size, {
      padValue: s.pad_value, mean: s.mean, std: s.std, toRgb: s.to_rgb });
    assert.deepEqual(scale, c.scale, 'scale');
    assert.equal(input.length, 3 * c.input_size[0] * c.input_size[1]);
    if (c.input === null) continue;
    const expected = decodeArray(c.input).data;
    // one level of the resize, normalised
    const level = s.std === null ? 1 : 1 / Math.min(...s.std);
    let differing = 0;
    for (let i = 0; i < expected.length; i++) {
      const diff = Math.abs(input[i] - expected[i]);
      assert.ok(diff <= level * (1 + 1e-6), `value ${i}: ${input[i]} vs ` +
                `${expected[i]}`);
      if (diff) differing++;
    }
    assert.ok(differing / expected.length < 1e-3,
              `${differing} of ${expected.length} values differ`);
  }
});

test('detector candidates', () => {
  const { boxes, scores, cases } = fixture.candidates;
  for (const c of cases) {
    const found = detectorCandidates(Float32Array.from(boxes.flat()),
                                     Float32Array.from(scores), c.cfg,
                                     c.scale);
    assert.deepEqual(Array.from(found.indices), c.expected_indices,
                     JSON.stringify(c.cfg));
    assertClose(found.boxes, flat(c.expected_boxes), 1e-9, 'boxes');
    assertClose(found.scores, c.expected_scores, 0, 'scores');
  }
});

test('box NMS', () => {
  const { boxes, scores, cases } = fixture.box_nms;
  for (const c of cases) {
    assert.deepEqual(boxNms(boxes.flat(), Float32Array.from(scores),
                            c.iou_thr, c.max_num), c.expected,
                     `iou_thr ${c.iou_thr} max_num ${c.max_num}`);
  }
});

test('clipping boxes to the frame', () => {
  const { boxes, scores, cases } = fixture.clip;
  for (const c of cases) {
    const out = clipBoxes({ boxes: boxes.flat(), scores }, c.width,
                          c.height);
    assertClose(out.boxes, flat(c.expected_boxes), 0, 'boxes');
    assertClose(out.scores, c.expected_scores, 0, 'scores');
  }
});

test('bad input is refused with a clear message', () => {
  assert.throws(() => letterbox(image, [0, 5], { padValue: 114 }),
                /inputSize should be 2 positive integers/);
  assert.throws(() => letterbox(image, [64, 64], {}),
                /padValue should be a finite number/);
  assert.throws(() => letterbox(image, [64, 64], { padValue: 0,
                                                   mean: [1, 2, 3] }),
                /std should be 3 finite numbers \(mean null for no normalisation\)/);
  assert.throws(() => letterbox({ data: new Uint8Array(3), width: 1,
                                  height: 1 }, [64, 64], { padValue: 0 }),
                /image.data should hold width \* height \* 4 = 4/);
  assert.throws(() => resizeBilinear(image, 0, 3),
                /output size should be 2 positive integers/);
  assert.throws(() => detectorCandidates([0, 0, 1], [0.5],
                                         { scoreThr: 0.3 }, [1, 1]),
                /boxes should be a flat array of N \* 4 = 4 numbers/);
  assert.throws(() => detectorCandidates([0, 0, 1, 1], [0.5],
                                         { scoreThr: 0.3 }, [0, 1]),
                /scale should be the 2 positive resize factors/);
  assert.throws(() => detectorCandidates([0, 0, 1, 1], [0.5], {}, [1, 1]),
                /scoreThr should be a number/);
  assert.throws(() => boxNms([0, 0, 1, 1], [0.5, 0.2], 0.5),
                /boxes should be a flat array of N \* 4 = 8 numbers/);
  assert.throws(() => boxNms([0, 0, 1, 1], [0.5], 'x'),
                /iouThr should be a number/);
  assert.throws(() => clipBoxes({ boxes: [0, 0, 1, 1], scores: [] }, 5, 5),
                /boxes should be a flat array of N \* 4 = 0 numbers/);
  assert.throws(() => clipBoxes({ boxes: [], scores: [] }, 0, 5),
                /width and height should be positive numbers/);
});
