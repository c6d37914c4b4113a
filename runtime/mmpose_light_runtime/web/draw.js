// Draw poses on a canvas in the dataset's skeleton and colours, as draw.py.

// Colours of the track ids (RGB), cycled: draw.py's, whose are BGR.
export const TRACK_COLORS = [[230, 25, 75], [60, 180, 75], [255, 225, 25],
  [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240],
  [240, 50, 230], [210, 245, 60], [250, 190, 212]];
const UNTRACKED = [0, 200, 255];
const LINK = [0, 255, 0];
const KEYPOINT = [255, 165, 0];

const css = (rgb) => `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;

/** Per-item RGB colours from the dataset's, or `fallback` for all. */
function colors(list, num, fallback) {
  if (!Array.isArray(list) || list.length !== num) {
    return Array(num).fill(fallback);
  }
  return list;
}

/**
 * Draw keypoints, skeleton links and boxes over what the canvas holds.
 * Links and keypoints scored at most kptThr are left out; boxes take
 * their track's colour and id.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Object} result The poses.
 * @param {Object} datasetMeta skeleton_links, skeleton_link_colors and
 *   keypoint_colors (RGB), as the model metadata carries them.
 * @param {Object} options kptThr (default 0.3), drawBboxes (default true).
 */
export function drawPoses(ctx, result, datasetMeta = {}, options = {}) {
  const kptThr = options.kptThr ?? 0.3;
  const scale = Math.max(ctx.canvas.width, ctx.canvas.height) / 640;
  const radius = Math.max(2, Math.round(3 * scale));
  const thickness = Math.max(1, Math.round(2 * scale));
  const links = datasetMeta.skeleton_links || [];
  const linkColors = colors(datasetMeta.skeleton_link_colors, links.length,
    LINK);
  ctx.save();
  ctx.lineWidth = thickness;
  ctx.font = `${Math.max(10, Math.round(14 * scale))}px sans-serif`;
  result.keypoints.forEach((kpts, i) => {
    const visible = result.keypointScores[i].map((s) => s > kptThr);
    const kptColors = colors(datasetMeta.keypoint_colors, kpts.length,
      KEYPOINT);
    if (options.drawBboxes ?? true) {
      const track = result.trackIds[i];
      const color = track < 0 ? UNTRACKED :
        TRACK_COLORS[track % TRACK_COLORS.length];
      const [x1, y1, x2, y2] = result.bboxes[i];
      ctx.strokeStyle = css(color);
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      if (track >= 0) {
        ctx.fillStyle = css(color);
        ctx.fillText(`id ${track}`, x1, Math.max(10, y1 - 4));
      }
    }
    links.forEach(([a, b], j) => {
      if (a < kpts.length && b < kpts.length && visible[a] && visible[b]) {
        ctx.strokeStyle = css(linkColors[j]);
        ctx.beginPath();
        ctx.moveTo(kpts[a][0], kpts[a][1]);
        ctx.lineTo(kpts[b][0], kpts[b][1]);
        ctx.stroke();
      }
    });
    kpts.forEach(([x, y], k) => {
      if (!visible[k]) return;
      ctx.fillStyle = css(kptColors[k]);
      ctx.beginPath();
      ctx.arc(x, y, radius, 0, 2 * Math.PI);
      ctx.fill();
    });
  });
  ctx.restore();
}
