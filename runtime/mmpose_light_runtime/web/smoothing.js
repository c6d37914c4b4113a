/**
 * Temporal smoothing of tracked keypoints with the one-euro filter.
 *
 * A port of the Python runtime's `smoothing.py` (the spec). The one-euro
 * filter (Casiez, Roussel and Vogel, CHI 2012) is an exponential moving
 * average whose cutoff frequency rises with the signal's speed.
 * {@link PoseSmoother} runs one-euro filters per track on the poses of
 * {@link PoseTracker}: one for the person's centre (the mean of its
 * confident keypoints) and one per keypoint for its offset from it.
 *
 * A result is the object of nested arrays that `tracker.js` describes.
 *
 * @module smoothing
 */

import { isArrayLike, checkNumber } from './checks.js';

/** The filter parameters of {@link PoseSmoother} by default. */
export const DEFAULT_SMOOTHING = Object.freeze({
  minCutoff: 0.3, beta: 6.0, dCutoff: 1.5, centreBeta: 40.0,
});

/**
 * Smoothing factor of an exponential moving average whose cutoff
 * frequency is `cutoff` (Hz), at sampling interval `dt` (s).
 */
function alpha(cutoff, dt) {
  const tau = 1.0 / (2.0 * Math.PI * cutoff);
  return 1.0 / (1.0 + tau / dt);
}

/**
 * One step of the one-euro filter on points, as the Python runtime's
 * `one_euro_step`.
 *
 * The speed `dx = (x - xPrev) / dt` is low-passed at `dCutoff`; the points
 * are low-passed at `minCutoff + beta * |dxHat| / scale`, where `|dxHat|`
 * is the norm of a point's filtered velocity.
 *
 * @param {number[][]} x The new points (P, D).
 * @param {number[][]} xPrev The filtered points of the step before (P, D).
 * @param {number[][]} dxPrev Their filtered velocity, units per second
 *   (P, D).
 * @param {number} dt Seconds since the step before, > 0.
 * @param {number} minCutoff Cutoff frequency at rest, in Hz.
 * @param {number} beta Cutoff increase per unit of speed, in Hz.
 * @param {number} dCutoff Cutoff frequency of the velocity, in Hz.
 * @param {number|number[]} [scale=1] The unit of speed of `beta`, one for
 *   all points or one per point (P).
 * @returns {{x: number[][], dx: number[][]}} The filtered points and
 *   velocity (P, D).
 */
export function oneEuroStep(x, xPrev, dxPrev, dt, minCutoff, beta, dCutoff,
                            scale = 1) {
  if (!isArrayLike(x) || !isArrayLike(xPrev) || !isArrayLike(dxPrev) ||
      xPrev.length !== x.length || dxPrev.length !== x.length) {
    throw new Error('x, xPrev and dxPrev should be arrays of the same ' +
                    'number of points (P, D)');
  }
  const scales = isArrayLike(scale) ? scale : null;
  if (scales !== null && scales.length !== x.length) {
    throw new Error(`scale should be a number or one per point ` +
                    `(${x.length}), but has ${scales.length}`);
  }
  const aD = alpha(dCutoff, dt);
  const outX = [];
  const outDx = [];
  for (let p = 0; p < x.length; p++) {
    const point = x[p];
    const dims = point.length;
    if (xPrev[p].length !== dims || dxPrev[p].length !== dims) {
      throw new Error(`point ${p} has ${dims} coordinates in x, ` +
                      `${xPrev[p].length} in xPrev, ${dxPrev[p].length} ` +
                      'in dxPrev');
    }
    const dxHat = [];
    let squares = 0;
    for (let d = 0; d < dims; d++) {
      const dx = (point[d] - xPrev[p][d]) / dt;
      const v = aD * dx + (1.0 - aD) * dxPrev[p][d];
      dxHat.push(v);
      squares += v * v;
    }
    const speed = Math.sqrt(squares) / (scales === null ? scale : scales[p]);
    const a = alpha(minCutoff + beta * speed, dt);
    outX.push(Array.from(point, (v, d) => a * v + (1.0 - a) * xPrev[p][d]));
    outDx.push(dxHat);
  }
  return { x: outX, dx: outDx };
}

/**
 * Mean of the `use`d keypoints of a pose (K, 2); zero without a centre or
 * without such keypoints. As the Python runtime's `_centres` for one pose.
 */
function centreOf(points, use, hasCentre) {
  if (!hasCentre) return [0, 0];
  let count = 0;
  for (const u of use) count += u ? 1 : 0;
  const weight = 1 / Math.max(count, 1);
  const centre = [0, 0];
  points.forEach((p, k) => {
    const w = use[k] ? weight : 0;
    centre[0] += w * p[0];
    centre[1] += w * p[1];
  });
  return centre;
}

/**
 * One-euro filters per track over the frames of a video, as the Python
 * runtime's `PoseSmoother`: one for the person's centre (the mean of its
 * confident keypoints), one per keypoint for its place about that centre;
 * the smoothed keypoint is their sum. When the set of confident keypoints
 * changes, the filters' state is re-expressed about the new centre. Speeds
 * are in person sizes (the square root of the pose's area) per second.
 *
 * A track absent from a frame is forgotten; a keypoint scored below
 * `kptThr` passes as it is and its state is dropped; untracked poses
 * (track id -1) pass as they are.
 */
export class PoseSmoother {
  /**
   * @param {object} [options] Options.
   * @param {number} [options.minCutoff=0.3] Cutoff frequency at rest, Hz.
   * @param {number} [options.beta=6.0] Cutoff increase of a keypoint's
   *   offset per person size per second, Hz.
   * @param {number} [options.dCutoff=1.5] Cutoff frequency of the speed
   *   estimates, Hz.
   * @param {?number} [options.centreBeta=40.0] Cutoff increase of the
   *   centre per person size per second, Hz; null: no centre, each
   *   keypoint filtered on its own with `beta`.
   * @param {number} [options.kptThr=0.2] Keypoints scored below this are
   *   not filtered.
   * @param {number} [options.fps=30] Frame rate assumed for frames without
   *   a timestamp.
   */
  constructor({ minCutoff = DEFAULT_SMOOTHING.minCutoff,
    beta = DEFAULT_SMOOTHING.beta, dCutoff = DEFAULT_SMOOTHING.dCutoff,
    centreBeta = DEFAULT_SMOOTHING.centreBeta, kptThr = 0.2,
    fps = 30 } = {}) {
    this.minCutoff = checkNumber('minCutoff', minCutoff,
                                 { low: 0, lowOpen: true });
    this.beta = checkNumber('beta', beta, { low: 0 });
    this.dCutoff = checkNumber('dCutoff', dCutoff, { low: 0, lowOpen: true });
    this.centreBeta = centreBeta === null ? null :
      checkNumber('centreBeta', centreBeta, { low: 0 });
    this.kptThr = checkNumber('kptThr', kptThr);
    this.fps = checkNumber('fps', fps, { low: 0, lowOpen: true });
    this.reset();
  }

  /** Forget every track (a new video). */
  reset() {
    this.tPrev = null;
    // track id -> {centre, dCentre, offset (K, 2), dOffset (K, 2),
    // valid (K)}
    this.states = new Map();
  }

  /**
   * The next frame's poses with their keypoints smoothed.
   *
   * @param {object} result The frame's poses, with track ids
   *   (`PoseTracker.update`); left unchanged.
   * @param {?number} [timestamp=null] The frame's time in seconds, after
   *   the frame before; null: `1 / fps` after it (0 for the first).
   * @returns {object} A new result with new, smoothed `keypoints`
   *   (number[N][K][2]); the other fields are `result`'s.
   */
  update(result, timestamp = null) {
    if (timestamp === null || timestamp === undefined) {
      timestamp = this.tPrev === null ? 0.0 : this.tPrev + 1.0 / this.fps;
    }
    checkNumber('timestamp', timestamp);
    const num = checkPoses(result);
    if (this.tPrev !== null && !(timestamp > this.tPrev)) {
      throw new Error(`timestamp ${timestamp} should be after the previous ` +
                      `frame's ${this.tPrev}`);
    }
    const dt = this.tPrev === null ? null : timestamp - this.tPrev;
    this.tPrev = timestamp;

    const ids = Array.from(result.trackIds);
    const tracked = ids.filter((id) => id >= 0);
    if (new Set(tracked).size !== tracked.length) {
      throw new Error(`track ids [${ids.join(', ')}] repeat in a frame`);
    }
    const hasCentre = this.centreBeta !== null;
    const states = new Map();
    const out = [];
    for (let i = 0; i < num; i++) {
      const x = Array.from(result.keypoints[i], (p) => [p[0], p[1]]);
      const confident = Array.from(result.keypointScores[i],
                                   (s) => s >= this.kptThr);
      // a track starts (or restarts) unfiltered, about the centre of its
      // confident keypoints
      let centre = centreOf(x, confident, hasCentre);
      let offset = x.map((p) => [p[0] - centre[0], p[1] - centre[1]]);
      let dCentre = [0, 0];
      let dOffset = x.map(() => [0, 0]);
      let smoothed = x;
      const state = this.states.get(ids[i]);
      if (state !== undefined && dt !== null) {
        if (state.offset.length !== x.length) {
          throw new Error(`track ${ids[i]} has ${x.length} keypoints, but ` +
                          `had ${state.offset.length}`);
        }
        ({ smoothed, centre, dCentre, offset, dOffset } = this.step(
          state, x, confident, Math.sqrt(Math.max(result.areas[i], 1)), dt,
          centre, offset));
      }
      out.push(smoothed);
      if (ids[i] >= 0) {
        states.set(ids[i], { centre, dCentre, offset, dOffset,
          valid: confident });
      }
    }
    this.states = states;
    return { ...result, keypoints: out };
  }

  /**
   * Filter one tracked pose that has a state from the frame before.
   *
   * @returns {object} The smoothed keypoints and the new state.
   */
  step(state, x, confident, scale, dt, centre, offset) {
    const hasCentre = this.centreBeta !== null;
    const use = state.valid.map((v, k) => v && confident[k]);
    // re-express the state about the centre of the keypoints used now: a
    // change of origin, the output stays the same
    const shift = centreOf(state.offset, use, hasCentre);
    const dShift = centreOf(state.dOffset, use, hasCentre);
    const cPrev = [state.centre[0] + shift[0], state.centre[1] + shift[1]];
    const dcPrev = [state.dCentre[0] + dShift[0],
      state.dCentre[1] + dShift[1]];
    const oPrev = state.offset.map((p) => [p[0] - shift[0], p[1] - shift[1]]);
    const doPrev = state.dOffset.map(
      (p) => [p[0] - dShift[0], p[1] - dShift[1]]);
    const cRaw = centreOf(x, use, hasCentre);
    let cNew = cRaw;
    let dcNew = [0, 0];
    if (hasCentre) {
      const step = oneEuroStep([cRaw], [cPrev], [dcPrev], dt, this.minCutoff,
                               this.centreBeta, this.dCutoff, scale);
      cNew = step.x[0];
      dcNew = step.dx[0];
    }
    const rel = x.map((p) => [p[0] - cRaw[0], p[1] - cRaw[1]]);
    const { x: oNew, dx: doNew } = oneEuroStep(
      rel, oPrev, doPrev, dt, this.minCutoff, this.beta, this.dCutoff,
      scale);
    // a track with no keypoint to carry on restarts
    const going = use.some((u) => u);
    const smoothed = x.map((p, k) => (use[k] ?
      [cNew[0] + oNew[k][0], cNew[1] + oNew[k][1]] : [p[0], p[1]]));
    const newCentre = going ? cNew : centre;
    const newDCentre = going ? dcNew : [0, 0];
    // a keypoint that just became confident starts where it is
    const newOffset = x.map((p, k) => {
      if (use[k]) return oNew[k];
      if (going) return [p[0] - cNew[0], p[1] - cNew[1]];
      return offset[k];
    });
    const newDOffset = x.map((p, k) => (use[k] ? doNew[k] : [0, 0]));
    return { smoothed, centre: newCentre, dCentre: newDCentre,
      offset: newOffset, dOffset: newDOffset };
  }
}

/** Check the fields the smoother reads; return N. */
function checkPoses(result) {
  if (result === null || typeof result !== 'object' ||
      !isArrayLike(result.keypoints)) {
    throw new Error('result should be an object with keypoints (N, K, 2), ' +
                    `keypointScores (N, K), areas (N) and trackIds (N), ` +
                    `but got ${result}`);
  }
  const num = result.keypoints.length;
  for (const field of ['keypointScores', 'areas', 'trackIds']) {
    if (!isArrayLike(result[field]) || result[field].length !== num) {
      throw new Error(`result.${field} should have one row per pose ` +
                      `(${num}), but got ${isArrayLike(result[field]) ?
                        `${result[field].length} rows` : result[field]}`);
    }
  }
  for (let i = 0; i < num; i++) {
    const pose = result.keypoints[i];
    const scores = result.keypointScores[i];
    if (!isArrayLike(pose) || !isArrayLike(scores) ||
        pose.length !== scores.length ||
        !Array.from(pose).every((p) => isArrayLike(p) && p.length === 2)) {
      throw new Error(`pose ${i} should have keypoints (K, 2) and K ` +
                      'keypoint scores');
    }
    if (!Number.isInteger(result.trackIds[i])) {
      throw new Error(`result.trackIds should be integers, but pose ${i} ` +
                      `has ${result.trackIds[i]}`);
    }
  }
  return num;
}
