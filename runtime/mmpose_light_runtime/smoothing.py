"""Temporal smoothing of tracked keypoints with the one-euro filter.

The one-euro filter (Casiez, Roussel and Vogel, "1 Euro Filter: A Simple
Speed-based Low-pass Filter for Noisy Input in Interactive Systems", CHI
2012) is an exponential moving average whose cutoff frequency rises with
the signal's speed: a keypoint at rest is smoothed hard (its jitter goes),
a moving one lightly (it does not lag). :class:`OneEuroFilter` runs it on
arrays of points; :class:`PoseSmoother` runs one-euro filters per track
on the poses of :class:`~mmpose_light_runtime.PoseTracker`, with the
frames' timestamps: one for the person's centre and one per keypoint for
its offset from it.
"""
from dataclasses import replace
from typing import Dict, Optional, Tuple, Union

import numpy as np

from .checks import check_number
from .structures import PoseResult

__all__ = [
    'OneEuroFilter', 'PoseSmoother', 'one_euro_step', 'DEFAULT_SMOOTHING'
]

#: The filter parameters of :class:`PoseSmoother` by default, chosen with
#: ``tools/benchmarks/smoothing.py`` (see ``docs/smoothing.md``): at least
#: 3x less jitter with a mean error below the raw one, from standing still
#: up to a walk (one person height per second), limbs still or swinging.
DEFAULT_SMOOTHING = dict(
    min_cutoff=0.3, beta=6.0, d_cutoff=1.5, centre_beta=40.0)


def _check_filter_args(min_cutoff, beta, d_cutoff) -> Tuple[float, ...]:
    return (check_number('`min_cutoff`', min_cutoff, 0, low_open=True),
            check_number('`beta`', beta, 0),
            check_number('`d_cutoff`', d_cutoff, 0, low_open=True))


def _alpha(cutoff, dt: np.ndarray) -> np.ndarray:
    """Smoothing factor of an exponential moving average whose cutoff
    frequency is ``cutoff`` (Hz), at sampling interval ``dt`` (s)."""
    tau = 1. / (2. * np.pi * cutoff)
    return 1. / (1. + tau / dt)


def one_euro_step(x: np.ndarray,
                  x_prev: np.ndarray,
                  dx_prev: np.ndarray,
                  dt: Union[float, np.ndarray],
                  min_cutoff: float,
                  beta: float,
                  d_cutoff: float,
                  scale: Union[float, np.ndarray] = 1.
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """One step of the one-euro filter on points.

    The speed ``dx = (x - x_prev) / dt`` is low-passed at ``d_cutoff``;
    the points are low-passed at ``min_cutoff + beta * |dx_hat| / scale``,
    where ``|dx_hat|`` is the norm of a point's filtered velocity (one
    cutoff for all coordinates of a point, whatever its direction).

    Note:
        - points: shape (..., D), D coordinates per point

    Args:
        x (np.ndarray): The new points. Shape (..., D).
        x_prev (np.ndarray): The filtered points of the step before.
            Shape (..., D).
        dx_prev (np.ndarray): The filtered velocity of the step before, in
            units per second. Shape (..., D).
        dt (float | np.ndarray): Seconds since the step before, > 0;
            broadcastable to (..., 1).
        min_cutoff (float): Cutoff frequency at rest, in Hz.
        beta (float): Cutoff increase per unit of speed (per ``scale`` per
            second), in Hz.
        d_cutoff (float): Cutoff frequency of the velocity, in Hz.
        scale (float | np.ndarray): The unit of speed of ``beta``,
            broadcastable to (..., 1). Defaults to 1.

    Returns:
        tuple[np.ndarray, np.ndarray]: The filtered points and velocity,
        shape (..., D) each.
    """
    dx = (x - x_prev) / dt
    a_d = _alpha(d_cutoff, dt)
    dx_hat = a_d * dx + (1. - a_d) * dx_prev
    speed = np.linalg.norm(dx_hat, axis=-1, keepdims=True) / scale
    a = _alpha(min_cutoff + beta * speed, dt)
    return a * x + (1. - a) * x_prev, dx_hat


class OneEuroFilter:
    """The one-euro filter on an array of points of a fixed shape.

    Example:
        >>> f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
        >>> f(np.zeros((17, 2)), t=0.0)  # the first sample passes as is
        >>> f(np.ones((17, 2)), t=0.1)   # then it is smoothed

    Args:
        min_cutoff (float): Cutoff frequency at rest, in Hz: lower smooths
            more (and lags more). Defaults to 1.0.
        beta (float): Cutoff increase per unit of speed, in Hz: higher
            lags less when moving fast. Defaults to 0.0.
        d_cutoff (float): Cutoff frequency of the speed estimate, in Hz.
            Defaults to 1.0.
    """

    def __init__(self,
                 min_cutoff: float = 1.0,
                 beta: float = 0.0,
                 d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = _check_filter_args(
            min_cutoff, beta, d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes unfiltered."""
        self.t_prev: Optional[float] = None
        self.x_prev: Optional[np.ndarray] = None
        self.dx_prev: Optional[np.ndarray] = None

    def __call__(self,
                 x: np.ndarray,
                 t: float,
                 scale: Union[float, np.ndarray] = 1.) -> np.ndarray:
        """Filter the next sample.

        Args:
            x (np.ndarray): Points. Shape (..., D), the same every call.
            t (float): Its time in seconds, after the sample before.
            scale (float | np.ndarray): The unit of speed of ``beta``
                (:func:`one_euro_step`). Defaults to 1.

        Returns:
            np.ndarray: The filtered points, float64. Shape (..., D).
        """
        x = np.asarray(x, dtype=np.float64)
        if self.x_prev is None:
            self.x_prev, self.dx_prev = x.copy(), np.zeros_like(x)
            self.t_prev = float(t)
            return x.copy()
        if x.shape != self.x_prev.shape:
            raise ValueError(f'sample of shape {x.shape}, but the filter '
                             f'holds shape {self.x_prev.shape}; reset() it '
                             'first')
        dt = float(t) - self.t_prev
        if not dt > 0:
            raise ValueError(f'time {t!r} should be after the previous '
                             f'sample\'s {self.t_prev!r}')
        self.x_prev, self.dx_prev = one_euro_step(
            x, self.x_prev, self.dx_prev, dt, self.min_cutoff, self.beta,
            self.d_cutoff, scale)
        self.t_prev = float(t)
        return self.x_prev.copy()


class PoseSmoother:
    """One-euro filters per track over the frames of a video: one for the
    person's centre, one per keypoint for its place about that centre.

    A person moves as a whole (walks, turns, the camera pans) and moves its
    limbs; a one-euro filter on each keypoint in image coordinates smooths
    little while the person moves, since its cutoff rises with speed so as
    not to trail them. Here each track's keypoints are split into

    - its **centre**, the mean of its confident keypoints, whose noise is
      that of a keypoint divided by the square root of their number,
      filtered at ``min_cutoff + centre_beta * speed``;
    - each keypoint's **offset** from the centre, which moves only as the
      limbs move, filtered at ``min_cutoff + beta * speed`` with its own
      speed;

    and the smoothed keypoint is the sum of the two. When the set of
    confident keypoints changes, the filters' state is re-expressed about
    the new centre, leaving the output unchanged. With ``centre_beta=None``
    each keypoint is filtered on its own in image coordinates (the classic
    one-euro filter per keypoint). Speeds are measured in person sizes per
    second (the square root of the pose's area), so the same ``beta`` suits
    small and large people and any video resolution; ``dt`` is the
    interval between the frames' timestamps (:func:`one_euro_step`).

    State is never carried over a gap: a track absent from a frame (ended,
    or unseen there) is forgotten, and starts afresh if its id comes back,
    since the person may have moved anywhere meanwhile; a keypoint scored
    below ``kpt_thr`` passes as it is and its state is dropped, so that it
    restarts from its next confident position. Untracked poses (track id
    -1) pass as they are.

    Example:
        >>> tracker, smoother = PoseTracker(), PoseSmoother()
        >>> for t, result in zip(timestamps, results):
        ...     smoothed = smoother.update(tracker.update(result), t)

    Args:
        min_cutoff (float): Cutoff frequency at rest, in Hz: lower smooths
            more. Defaults to ``DEFAULT_SMOOTHING['min_cutoff']``.
        beta (float): Cutoff increase of a keypoint's offset per person
            size per second of its speed about the centre, in Hz: higher
            lags less when limbs move fast. Defaults to
            ``DEFAULT_SMOOTHING['beta']``.
        d_cutoff (float): Cutoff frequency of the speed estimates, in Hz.
            Defaults to ``DEFAULT_SMOOTHING['d_cutoff']``.
        centre_beta (float, optional): Cutoff increase of the centre per
            person size per second of its speed, in Hz: higher lags less
            when the person moves fast. None: no centre, each keypoint
            filtered on its own with ``beta``. Defaults to
            ``DEFAULT_SMOOTHING['centre_beta']``.
        kpt_thr (float): Keypoints scored below this are not filtered.
            Defaults to 0.2 (MMPose's rescoring threshold).
        fps (float): Frame rate assumed for frames without a timestamp.
            Defaults to 30.
    """

    def __init__(self,
                 min_cutoff: float = DEFAULT_SMOOTHING['min_cutoff'],
                 beta: float = DEFAULT_SMOOTHING['beta'],
                 d_cutoff: float = DEFAULT_SMOOTHING['d_cutoff'],
                 centre_beta: Optional[float] = DEFAULT_SMOOTHING[
                     'centre_beta'],
                 kpt_thr: float = 0.2,
                 fps: float = 30.) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = _check_filter_args(
            min_cutoff, beta, d_cutoff)
        self.centre_beta = None if centre_beta is None else check_number(
            '`centre_beta`', centre_beta, 0)
        self.kpt_thr = check_number('`kpt_thr`', kpt_thr)
        self.fps = check_number('`fps`', fps, 0, low_open=True)
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new video)."""
        self.t_prev: Optional[float] = None
        # track id -> (filtered centre (2, ), its velocity (2, ), filtered
        # offsets from it (K, 2), their velocities (K, 2), whether each
        # keypoint has a state (K, ))
        self.states: Dict[int, Tuple[np.ndarray, ...]] = {}

    def _centres(self, x: np.ndarray, use: np.ndarray) -> np.ndarray:
        """Mean of the ``use``d keypoints of (N, K, 2) poses, (N, 2); zero
        without a centre or without such keypoints."""
        if self.centre_beta is None:
            return np.zeros((len(x), 2))
        weights = use / np.maximum(use.sum(1, keepdims=True), 1)
        return np.einsum('nk,nkd->nd', weights, x)

    def update(self,
               result: PoseResult,
               timestamp: Optional[float] = None) -> PoseResult:
        """The next frame's poses with their keypoints smoothed.

        Args:
            result (PoseResult): The frame's poses, with track ids
                (:meth:`PoseTracker.update`); left unchanged.
            timestamp (float, optional): The frame's time in seconds, after
                the frame before. Defaults to None: ``1 / fps`` after it.

        Returns:
            PoseResult: ``result``'s poses with new, smoothed ``keypoints``
            (the other arrays are shared).
        """
        if timestamp is None:
            timestamp = 0. if self.t_prev is None else \
                self.t_prev + 1. / self.fps
        timestamp = check_number('`timestamp`', timestamp)
        if self.t_prev is not None and not timestamp > self.t_prev:
            raise ValueError(f'`timestamp` {timestamp} should be after the '
                             f"previous frame's {self.t_prev}")
        dt = None if self.t_prev is None else timestamp - self.t_prev
        self.t_prev = timestamp

        ids = np.asarray(result.track_ids)
        if len(set(ids[ids >= 0].tolist())) != int((ids >= 0).sum()):
            raise ValueError(f'track ids {ids.tolist()} repeat in a frame')
        x = result.keypoints.astype(np.float64)
        confident = result.keypoint_scores >= self.kpt_thr
        # a track starts (or restarts) unfiltered, about the centre of its
        # confident keypoints
        centre = self._centres(x, confident)
        offset = x - centre[:, None]
        d_centre, d_offset = np.zeros_like(centre), np.zeros_like(offset)
        out = x.copy()
        # the rows whose tracks have a state from the frame before
        rows = [i for i, track in enumerate(ids.tolist())
                if track in self.states]
        if rows and dt is not None:
            c_prev, dc_prev, o_prev, do_prev, valid = (
                np.stack(part) for part in zip(
                    *(self.states[ids[i]] for i in rows)))
            xr = x[rows]
            use = valid & confident[rows]
            # re-express the state about the centre of the keypoints used
            # now: a change of origin, the output stays the same
            shift = self._centres(o_prev, use)
            d_shift = self._centres(do_prev, use)
            c_prev, dc_prev = c_prev + shift, dc_prev + d_shift
            o_prev = o_prev - shift[:, None]
            do_prev = do_prev - d_shift[:, None]
            scale = np.sqrt(np.maximum(result.areas[rows], 1.))[:, None]
            c_raw = self._centres(xr, use)
            c_new, dc_new = c_raw, np.zeros_like(c_raw)
            if self.centre_beta is not None:
                c_new, dc_new = one_euro_step(
                    c_raw, c_prev, dc_prev, dt, self.min_cutoff,
                    self.centre_beta, self.d_cutoff, scale)
            o_new, do_new = one_euro_step(
                xr - c_raw[:, None], o_prev, do_prev, dt, self.min_cutoff,
                self.beta, self.d_cutoff, scale[:, None])
            # a track with no keypoint to carry on restarts
            going = use.any(1)
            out[rows] = np.where(use[..., None], c_new[:, None] + o_new, xr)
            centre[rows] = np.where(going[:, None], c_new, centre[rows])
            d_centre[rows] = np.where(going[:, None], dc_new, 0.)
            # a keypoint that just became confident starts where it is
            offset[rows] = np.where(
                use[..., None], o_new,
                np.where(going[:, None, None], xr - c_new[:, None],
                         offset[rows]))
            d_offset[rows] = np.where(use[..., None], do_new, 0.)
        self.states = {
            int(track): (centre[i], d_centre[i], offset[i], d_offset[i],
                         confident[i])
            for i, track in enumerate(ids.tolist()) if track >= 0
        }
        return replace(result, keypoints=out.astype(result.keypoints.dtype))
