// Where frames come from, as sources.py: an image, a video file or a
// camera, each giving RGBA frames (canvas ImageData) with their times.

/**
 * The pixels of a drawable (image, bitmap, video) at its natural size.
 * @returns {ImageData}
 */
export function pixels(drawable, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(drawable, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height);
}

/**
 * Decode an image file.
 * @param {Blob} file
 * @returns {Promise<ImageData>}
 */
export async function readImage(file) {
  let bitmap;
  try {
    // no colour-space conversion: the pixels as the file stores them, as
    // OpenCV reads them
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none',
      premultiplyAlpha: 'none' });
  } catch (error) {
    throw new Error(`the browser cannot decode the image ${file.name} ` +
      `(${error.message})`);
  }
  const image = pixels(bitmap, bitmap.width, bitmap.height);
  bitmap.close();
  return image;
}

/** Wait for one of a media element's events, or fail on 'error'. */
function once(element, event, what) {
  return new Promise((resolve, reject) => {
    const ok = () => { cleanup(); resolve(); };
    const bad = () => {
      cleanup();
      const code = element.error ? ` (media error ${element.error.code}` +
        `${element.error.message ? ': ' + element.error.message : ''})` : '';
      reject(new Error(`the browser cannot decode ${what}${code}`));
    };
    const cleanup = () => {
      element.removeEventListener(event, ok);
      element.removeEventListener('error', bad);
    };
    element.addEventListener(event, ok);
    element.addEventListener('error', bad);
  });
}

/**
 * Frames of a video file, one after the other: the video pauses while each
 * frame is processed, so none is skipped for being slow.
 * @param {HTMLVideoElement} video The element to play it in.
 * @param {Blob} file The video file.
 * @param {function(ImageData, number): Promise<boolean>} onFrame Called
 *   with each frame and its media time in seconds; return false to stop.
 * @returns {Promise<number>} The number of frames processed.
 */
export async function playVideo(video, file, onFrame) {
  if (!('requestVideoFrameCallback' in HTMLVideoElement.prototype)) {
    throw new Error('this browser lacks requestVideoFrameCallback, which ' +
      'the page needs to read every frame of a video');
  }
  const url = URL.createObjectURL(file);
  video.muted = true;
  video.playsInline = true;
  video.src = url;
  try {
    await once(video, 'loadeddata', `the video ${file.name}`);
    if (!video.videoWidth || !video.videoHeight) {
      throw new Error(`the browser cannot decode the video ${file.name} ` +
        '(no picture)');
    }
    return await stepFrames(video, onFrame, true);
  } finally {
    video.pause();
    // empty the element, or a camera stream given to it next never plays
    video.removeAttribute('src');
    video.load();
    URL.revokeObjectURL(url);
  }
}

/**
 * Frames of the camera until onFrame returns false.
 * @param {HTMLVideoElement} video
 * @param {function(ImageData, number): Promise<boolean>} onFrame
 * @returns {Promise<number>} The number of frames processed.
 */
export async function playCamera(video, onFrame) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error('this browser gives the page no camera (getUserMedia ' +
      'needs https or localhost)');
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: true,
      audio: false });
  } catch (error) {
    const why = error.name === 'NotAllowedError' ?
      'permission to use the camera was denied' :
      error.name === 'NotFoundError' ? 'there is no camera' : error.message;
    throw new Error(`no camera: ${why}`);
  }
  video.srcObject = stream;
  video.muted = true;
  try {
    // a stream has no data before it plays
    const loaded = video.readyState >= 2 ? null :
      once(video, 'loadeddata', 'the camera stream');
    await video.play();
    if (loaded) await loaded;
    return await stepFrames(video, onFrame, false);
  } finally {
    stream.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
  }
}

/** Call onFrame on each new frame of a playing element, until it ends
 * or onFrame returns false. */
function stepFrames(video, onFrame, pauseEach) {
  return new Promise((resolve, reject) => {
    let count = 0;
    let start = null;
    let handle = null;
    const finish = (error) => {
      // a callback left pending would run on the element's next source
      if (handle !== null) video.cancelVideoFrameCallback(handle);
      video.removeEventListener('ended', ended);
      if (error) reject(error);
      else resolve(count);
    };
    const ended = () => finish();
    video.addEventListener('ended', ended);
    const next = async (now, info) => {
      handle = null;
      try {
        if (pauseEach) video.pause();
        const frame = pixels(video, video.videoWidth, video.videoHeight);
        // media time for files; for a camera, seconds since the first frame
        if (start === null) start = now;
        const time = pauseEach ? info.mediaTime : (now - start) / 1000;
        const more = await onFrame(frame, time);
        count += 1;
        if (more === false || (pauseEach && video.ended)) {
          finish();
          return;
        }
        handle = video.requestVideoFrameCallback(next);
        if (pauseEach) await video.play();
      } catch (error) {
        finish(error);
      }
    };
    handle = video.requestVideoFrameCallback(next);
    video.play().catch(finish);
  });
}
