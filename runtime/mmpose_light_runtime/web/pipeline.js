// Boxes, poses, NMS and tracking for each frame, as pipeline.py: person
// boxes from the detector every detInterval frames (in between, from the
// poses of the frame before), all crops through the pose network in one
// batch, Matrix-OKS-NMS, track ids, then each track smoothed over time.

import { matrixOksNms } from './nms.js';
import { PoseSmoother } from './smoothing.js';
import { PoseTracker, bboxesFromPoses } from './tracker.js';

/** The NMS of the pipeline by default (pipeline.DEFAULT_NMS). */
export const DEFAULT_NMS = { kernel: 'gaussian', sigma: 2.0, scoreThr: 0.2 };

/** The poses of a result at the given indices, in that order. */
export function selectPoses(result, indices) {
  const out = {};
  for (const [key, values] of Object.entries(result)) {
    out[key] = indices.map((i) => values[i]);
  }
  return out;
}

/** The whole frame as one box of score 1 (detectors.WholeFrame). */
export function wholeFrame(image) {
  return { bboxes: [[0, 0, image.width, image.height]], scores: [1] };
}

export class PosePipeline {
  /**
   * @param {Object} estimator A TopdownEstimator.
   * @param {?Object} detector An OnnxDetector, or null for the whole frame.
   * @param {Object} options nms (matrixOksNms options, or null for none;
   *   default DEFAULT_NMS), detInterval (default 1), tracking (default
   *   false), smoothing (default false; needs tracking), boxKptThr
   *   (default 0.3).
   */
  constructor(estimator, detector = null, options = {}) {
    const detInterval = options.detInterval ?? 1;
    if (!Number.isInteger(detInterval) || detInterval < 1) {
      throw new Error(`detInterval should be an integer >= 1, but got ` +
        `${detInterval}`);
    }
    this.estimator = estimator;
    this.detector = detector;
    this.nms = options.nms === undefined ? DEFAULT_NMS : options.nms;
    this.detInterval = detInterval;
    const sigmas = estimator.datasetMeta.sigmas || null;
    this.sigmas = sigmas;
    this.tracker = options.tracking ? new PoseTracker({ sigmas }) : null;
    if (options.smoothing && !this.tracker) {
      throw new Error('smoothing needs tracking: the filter follows each ' +
        'track over frames');
    }
    this.smoother = options.smoothing ? new PoseSmoother() : null;
    this.boxKptThr = options.boxKptThr ?? 0.3;
    this.reset();
  }

  /** Start a new video: forget the previous poses and tracks. */
  reset() {
    this.framesSeen = 0;
    this.previous = null;
    this.lastNumBoxes = 0;
    if (this.tracker) this.tracker.reset();
    if (this.smoother) this.smoother.reset();
  }

  /** The person boxes and scores of the next frame. */
  async boxes(image) {
    const carry = this.framesSeen % this.detInterval !== 0 &&
      this.previous && this.previous.bboxes.length;
    if (carry) {
      return { bboxes: bboxesFromPoses(this.previous, this.boxKptThr),
        scores: this.previous.bboxScores };
    }
    return this.detector ? this.detector.detect(image) : wholeFrame(image);
  }

  /** Matrix-OKS-NMS over the poses; scores become the decayed ones. */
  suppress(result) {
    if (!this.nms || !result.bboxes.length) return result;
    const { keep, decayed } = matrixOksNms(result.keypoints,
      result.keypointScores, result.scores, result.areas,
      { sigmas: this.sigmas, ...this.nms });
    const kept = selectPoses(result, keep);
    kept.scores = keep.map((i) => Math.fround(decayed[i]));
    return kept;
  }

  /**
   * The poses of the next frame.
   * @param {{data: Uint8ClampedArray, width: number, height: number}} image
   * @param {?number} timestamp The frame's time in seconds (null: the
   *   smoother's frame rate after the frame before).
   * @returns {Promise<Object>} The kept poses, by descending score.
   */
  async process(image, timestamp = null) {
    const { bboxes, scores } = await this.boxes(image);
    this.lastNumBoxes = bboxes.length;
    let result = this.suppress(
      await this.estimator.predict(image, bboxes, scores));
    if (this.tracker) this.tracker.update(result);
    this.previous = result;
    this.framesSeen += 1;
    if (this.smoother) {
      result = this.smoother.update(result, timestamp);
      // float32, as the runtime's PoseResult
      result.keypoints = result.keypoints.map(
        (kpts) => kpts.map(([x, y]) => [Math.fround(x), Math.fround(y)]));
    }
    return result;
  }
}
