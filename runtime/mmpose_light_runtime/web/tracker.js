/**
 * Pose tracking across video frames.
 *
 * A port of the Python runtime's `tracker.py` (the spec).
 * {@link PoseTracker} gives each pose of a frame a track id by matching it
 * to the poses of the frames before by Object Keypoint Similarity,
 * greedily, best pair first, then by box IoU; {@link bboxesFromPoses}
 * turns a frame's poses into the person boxes of the next frame.
 *
 * A result (the poses of one frame) is an object of nested arrays:
 * `{keypoints: number[N][K][2], keypointScores: number[N][K],
 * bboxes: number[N][4], bboxScores: number[N], scores: number[N],
 * areas: number[N], trackIds: number[N]}`.
 *
 * @module tracker
 */

import { isArrayLike } from './checks.js';
import { pairwiseOks } from './nms.js';

const FIELDS = ['keypoints', 'keypointScores', 'bboxes', 'bboxScores',
  'scores', 'areas', 'trackIds'];

/**
 * Check a result: every field present with one row per pose.
 *
 * @param {object} result The poses of a frame.
 * @param {string[]} [fields] The fields needed.
 * @returns {number} N.
 */
export function checkResult(result, fields = FIELDS) {
  if (result === null || typeof result !== 'object') {
    throw new Error('result should be an object of per-pose arrays ' +
                    `(${FIELDS.join(', ')}), but got ${result}`);
  }
  if (!isArrayLike(result.keypoints)) {
    throw new Error('result.keypoints should be an array (N, K, 2), but ' +
                    `got ${result.keypoints}`);
  }
  const num = result.keypoints.length;
  for (const field of fields) {
    const value = result[field];
    if (!isArrayLike(value)) {
      throw new Error(`result.${field} should be an array with one row ` +
                      `per pose, but got ${value}`);
    }
    if (value.length !== num) {
      throw new Error(`result.${field} has ${value.length} rows, ` +
                      `result.keypoints has ${num}`);
    }
  }
  for (let i = 0; i < num; i++) {
    const box = result.bboxes && result.bboxes[i];
    if (fields.includes('bboxes') &&
        (!isArrayLike(box) || box.length !== 4 ||
         !Array.from(box).every(Number.isFinite))) {
      throw new Error('result.bboxes should have shape (N, 4) as finite ' +
                      `(x1, y1, x2, y2), but row ${i} is ${box}`);
    }
  }
  return num;
}

function checkThreshold(name, value, low, high) {
  if (typeof value !== 'number' || !(value >= low && value <= high)) {
    throw new Error(`${name} should be a number in [${low}, ${high}], but ` +
                    `got ${value}`);
  }
  return value;
}

/**
 * The IoU of every box of `a` with every box of `b`, both
 * (x1, y1, x2, y2), as the Python runtime's `box_iou`; 0 where the union
 * is empty.
 *
 * @param {number[][]} a Boxes (N, 4).
 * @param {number[][]} b Boxes (M, 4).
 * @returns {number[][]} IoU (N, M).
 */
export function boxIou(a, b) {
  for (const [name, boxes] of [['a', a], ['b', b]]) {
    if (!isArrayLike(boxes) || !Array.from(boxes).every(
      (box) => isArrayLike(box) && box.length === 4)) {
      throw new Error(`${name} should be boxes of shape (N, 4) as ` +
                      '(x1, y1, x2, y2), nested arrays number[N][4]');
    }
  }
  const area = (box) => (box[2] - box[0]) * (box[3] - box[1]);
  return Array.from(a, (p) => Array.from(b, (q) => {
    const w = Math.max(Math.min(p[2], q[2]) - Math.max(p[0], q[0]), 0);
    const h = Math.max(Math.min(p[3], q[3]) - Math.max(p[1], q[1]), 0);
    const inter = w * h;
    const union = area(p) + area(q) - inter;
    return union > 0 ? inter / Math.max(union, 1e-12) : 0;
  }));
}

/**
 * Person boxes around each pose's confident keypoints, as the Python
 * runtime's `bboxes_from_poses`.
 *
 * The box of a pose's keypoints scored above `kptThr` (all of them if
 * fewer than two are), grown by `padding` around its centre; its width and
 * height stay within `maxResize` times those of the pose's own box. A pose
 * without extent keeps its own box.
 *
 * @param {object} result The poses (keypoints, keypointScores, bboxes).
 * @param {number} [kptThr=0.3] Keypoint score threshold.
 * @param {number} [padding=1.25] Growth factor of the keypoints' box.
 * @param {number} [maxResize=1.25] Largest change of a box side, as a
 *   factor.
 * @returns {number[][]} Boxes (N, 4) as (x1, y1, x2, y2).
 */
export function bboxesFromPoses(result, kptThr = 0.3, padding = 1.25,
                                maxResize = 1.25) {
  const num = checkResult(result, ['keypoints', 'keypointScores', 'bboxes']);
  for (const [name, value] of [['kptThr', kptThr], ['padding', padding],
    ['maxResize', maxResize]]) {
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw new Error(`${name} should be a number, but got ${value}`);
    }
  }
  const boxes = [];
  for (let i = 0; i < num; i++) {
    const box = Array.from(result.bboxes[i], Number);
    const kpts = result.keypoints[i];
    const scores = result.keypointScores[i];
    if (!isArrayLike(kpts) || !isArrayLike(scores) ||
        kpts.length !== scores.length || kpts.length === 0) {
      throw new Error(`pose ${i} should have K > 0 keypoints and K ` +
                      'keypoint scores');
    }
    let confident = Array.from(kpts).filter((p, k) => scores[k] > kptThr);
    if (confident.length < 2) confident = Array.from(kpts);
    const low = [Infinity, Infinity];
    const high = [-Infinity, -Infinity];
    for (const p of confident) {
      for (let d = 0; d < 2; d++) {
        low[d] = Math.min(low[d], p[d]);
        high[d] = Math.max(high[d], p[d]);
      }
    }
    if (!(high[0] > low[0] && high[1] > low[1])) {
      boxes.push(box);
      continue;
    }
    const out = [0, 0, 0, 0];
    for (let d = 0; d < 2; d++) {
      const size = box[d + 2] - box[d];
      // np.clip(v, lo, hi) = min(max(v, lo), hi)
      const clipped = Math.min(Math.max((high[d] - low[d]) * padding,
                                        size / maxResize), size * maxResize);
      const half = clipped / 2;
      const center = (low[d] + high[d]) / 2;
      out[d] = center - half;
      out[d + 2] = center + half;
    }
    boxes.push(out);
  }
  return boxes;
}

/**
 * Greedily give the unmatched poses (`ids` -1) the ids of the still free
 * active tracks, best pair first (ties by pose, then track), none below
 * `thr`.
 */
function match(similarity, thr, inactive, trackIds, ids) {
  const numPoses = similarity.length;
  const numTracks = trackIds.length;
  const taken = new Set(ids.filter((id) => id >= 0));
  const sim = [];
  for (let p = 0; p < numPoses; p++) {
    for (let t = 0; t < numTracks; t++) {
      const blocked = ids[p] >= 0 || inactive[t] || taken.has(trackIds[t]);
      sim.push(blocked ? -1 : similarity[p][t]);
    }
  }
  // numpy's argsort(-sim, axis=None, kind='stable')
  const order = sim.map((v, i) => i).sort((a, b) => {
    const x = -sim[a];
    const y = -sim[b];
    if (x < y) return -1;
    if (x > y) return 1;
    return a - b;
  });
  for (const flat of order) {
    const pose = Math.floor(flat / numTracks);
    const track = flat % numTracks;
    if (sim[flat] < thr) break;
    if (ids[pose] >= 0 || taken.has(trackIds[track])) continue;
    ids[pose] = trackIds[track];
    taken.add(trackIds[track]);
  }
}

/**
 * Assign track ids by matching poses to earlier frames' poses, as the
 * Python runtime's `PoseTracker`.
 *
 * Each pose of a frame is matched to an active track (one seen in the last
 * `maxAge` frames) by OKS with the track's last pose, greedily: the
 * best-matching pair first, no pair below `oksThr`. Poses and tracks left
 * over are then matched the same way by the IoU of their boxes, no pair
 * below `iouThr`. Unmatched poses start new tracks with fresh ids.
 */
export class PoseTracker {
  /**
   * @param {object} [options] Options.
   * @param {number} [options.oksThr=0.3] Least OKS of a match, in [0, 1].
   * @param {number} [options.iouThr=0.5] Least box IoU of a match among
   *   the poses and tracks that OKS left unmatched, in [0, 1].
   * @param {number} [options.maxAge=10] Frames a track stays matchable
   *   after it was last seen, an int >= 1.
   * @param {?number[]} [options.sigmas=null] Per-keypoint sigmas; null for
   *   COCO's.
   */
  constructor({ oksThr = 0.3, iouThr = 0.5, maxAge = 10,
    sigmas = null } = {}) {
    this.oksThr = checkThreshold('oksThr', oksThr, 0, 1);
    this.iouThr = checkThreshold('iouThr', iouThr, 0, 1);
    if (!Number.isInteger(maxAge) || maxAge < 1) {
      throw new Error(`maxAge should be an int >= 1, but got ${maxAge}`);
    }
    this.maxAge = maxAge;
    this.sigmas = sigmas;
    this.reset();
  }

  /** Forget every track. */
  reset() {
    // the tracks' last poses: {keypoints, bboxes, areas, trackIds}
    this.tracks = null;
    this.lastSeen = [];
    this.nextId = 0;
    this.frame = -1;
  }

  /**
   * Give the poses of the next frame their track ids, in place.
   *
   * @param {object} result The frame's poses.
   * @returns {object} `result`, with `trackIds` set.
   */
  update(result) {
    const num = checkResult(result);
    if (this.tracks !== null && this.tracks.keypoints.length && num) {
      const k = this.tracks.keypoints[0].length;
      const bad = result.keypoints.findIndex(
        (pose) => !isArrayLike(pose) || pose.length !== k);
      if (bad >= 0) {
        throw new Error(`pose ${bad} has ` +
                        `${isArrayLike(result.keypoints[bad]) ?
                          result.keypoints[bad].length : 'no'} keypoints, ` +
                        `the tracks have ${k}`);
      }
    }
    this.frame += 1;
    const ids = new Array(num).fill(-1);
    if (this.tracks !== null && this.tracks.keypoints.length && num) {
      const inactive = this.lastSeen.map(
        (seen) => this.frame - seen > this.maxAge);
      const trackIds = this.tracks.trackIds;
      // the OKS of the poses with the tracks, as oks_between
      const all = pairwiseOks(
        [...Array.from(result.keypoints), ...this.tracks.keypoints],
        [...Array.from(result.areas), ...this.tracks.areas], this.sigmas);
      const oks = all.slice(0, num).map((row) => row.slice(num));
      match(oks, this.oksThr, inactive, trackIds, ids);
      const iou = boxIou(result.bboxes, this.tracks.bboxes);
      match(iou, this.iouThr, inactive, trackIds, ids);
    }
    for (let i = 0; i < num; i++) {
      if (ids[i] < 0) ids[i] = this.nextId++;
    }
    result.trackIds = ids;
    this.remember(result);
    return result;
  }

  /** Keep the frame's poses and the still active unmatched tracks. */
  remember(result) {
    const copy = {
      keypoints: Array.from(result.keypoints,
                            (pose) => Array.from(pose, (p) => [p[0], p[1]])),
      bboxes: Array.from(result.bboxes, (box) => Array.from(box)),
      areas: Array.from(result.areas),
      trackIds: Array.from(result.trackIds),
    };
    const seen = copy.trackIds.map(() => this.frame);
    if (this.tracks === null || !this.tracks.keypoints.length) {
      this.tracks = copy;
      this.lastSeen = seen;
      return;
    }
    const current = new Set(copy.trackIds);
    const lost = this.tracks.trackIds.map(
      (id, t) => !current.has(id) && this.frame - this.lastSeen[t] <
        this.maxAge);
    for (const field of ['keypoints', 'bboxes', 'areas', 'trackIds']) {
      copy[field].push(...this.tracks[field].filter((v, t) => lost[t]));
    }
    this.tracks = copy;
    this.lastSeen = [...seen, ...this.lastSeen.filter((v, t) => lost[t])];
  }
}
