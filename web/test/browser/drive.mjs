// Drive the pose page in headless Chromium (the system's, through
// playwright-core; nothing is downloaded) and write what it computed.
//
//   node web/test/browser/drive.mjs JOB.json OUT.json
//
// JOB.json: {url, chromium (executable, default $CHROMIUM or
// /usr/bin/chromium), camera (a .y4m file for the fake camera, or
// "deny"), timeoutMs, steps: [...]}. Each step is one of
//   {"do": "open", "query": "?threads=1"}   load the page, wait until ready
//   {"do": "file", "input": "#media-file", "path": "x.png"}
//                          choose a file, wait until the run ends
//   {"do": "camera", "frames": 8}          run the camera for some frames
//   {"do": "screenshot", "path": "x.png"}  the canvas as a PNG
//   {"do": "time", "image": "URL", "bboxes": [[...]], "warmup": 10,
//    "runs": 20}                           predict() timings
// OUT.json: one entry per step with the page's state, error message,
// status line, results (and captured frames as base64 RGBA).

import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [jobFile, outFile] = process.argv.slice(2);
if (!jobFile || !outFile) {
  console.error('usage: node drive.mjs JOB.json OUT.json');
  process.exit(2);
}
const job = JSON.parse(readFileSync(jobFile, 'utf8'));
const timeout = job.timeoutMs || 120000;

const args = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--autoplay-policy=no-user-gesture-required',
  '--use-fake-device-for-media-stream'];
if (job.camera && job.camera !== 'deny') {
  args.push('--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${job.camera}`);
}

const browser = await chromium.launch({
  executablePath: job.chromium || process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args,
});
const outputs = [];
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 } });
  if (job.camera === 'deny') {
    await context.clearPermissions();
  }
  const page = await context.newPage();
  const logs = [];
  page.on('console', (msg) => logs.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (error) => logs.push(`pageerror: ${error.message}`));

  const snapshot = async (extra = {}) => ({
    ...(await page.evaluate(({ capture }) => {
      const app = window.poseApp;
      const toBase64 = (bytes) => {
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) {
          text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        }
        return btoa(text);
      };
      return {
        state: app.state,
        error: app.error,
        message: document.getElementById('message').hidden ? null :
          document.getElementById('message').textContent,
        status: document.getElementById('status').textContent,
        notes: document.getElementById('notes').textContent,
        fps: document.getElementById('fps').textContent,
        canvas: [document.getElementById('view').width,
          document.getElementById('view').height],
        engine: app.engine ? { name: app.engine.name,
          threads: app.engine.threads, isolated: app.engine.isolated } : null,
        results: app.results,
        frames: capture ? app.frames.map((f) => ({ width: f.width,
          height: f.height, data: toBase64(f.data) })) : [],
      };
    }, { capture: Boolean(extra.capture) })),
    ...extra,
  });
  const settled = () => page.waitForFunction(
    () => window.poseApp && ['done', 'error', 'ready'].includes(
      window.poseApp.state) && !window.poseApp.running, null, { timeout });

  for (const step of job.steps) {
    if (step.do === 'open') {
      await page.goto(job.url + (step.query || ''));
      await page.waitForFunction(() => window.poseApp &&
        window.poseApp.state !== 'loading', null, { timeout });
      outputs.push(await snapshot({ step: 'open' }));
    } else if (step.do === 'file') {
      await page.evaluate(() => { window.poseApp.state = 'choosing'; });
      await page.setInputFiles(step.input || '#media-file', step.path);
      await settled();
      outputs.push(await snapshot({ step: 'file', capture: step.capture }));
    } else if (step.do === 'camera') {
      await page.click('#camera');
      await page.waitForFunction((n) => window.poseApp.results.length >= n ||
        window.poseApp.state === 'error', step.frames || 5, { timeout });
      await page.click('#stop').catch(() => {});
      await settled();
      outputs.push(await snapshot({ step: 'camera', capture: step.capture }));
    } else if (step.do === 'screenshot') {
      await page.locator('#view').screenshot({ path: step.path });
      outputs.push({ step: 'screenshot', path: step.path });
    } else if (step.do === 'page-screenshot') {
      await page.screenshot({ path: step.path, fullPage: true });
      outputs.push({ step: 'page-screenshot', path: step.path });
    } else if (step.do === 'time') {
      const timing = await page.evaluate(
        ({ image, bboxes, warmup, runs }) => window.poseApp.timePredict(
          image, bboxes, { warmup, runs }), step);
      outputs.push({ step: 'time', ...timing,
        engine: await page.evaluate(() => ({
          name: window.poseApp.engine.name,
          threads: window.poseApp.engine.threads })) });
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }
  outputs.push({ step: 'logs', logs });
} finally {
  writeFileSync(outFile, JSON.stringify(outputs));
  await browser.close();
}
