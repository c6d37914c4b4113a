// The inference engine of the page: onnxruntime-web on WebGPU or on
// WebAssembly (threaded where the page is cross-origin isolated), as
// backends.py is for ONNX Runtime, OpenVINO and ncnn.
//
// The engine is chosen once per page load (WebAssembly's thread count is
// fixed when its module starts): 'auto' tries WebGPU where the browser has
// an adapter and falls back to WebAssembly, saying why.

import { readOnnxInfo } from './meta.js';

let engine = null;

/**
 * Load onnxruntime-web and pick the engine.
 * @param {string} ortBase URL of onnxruntime-web's dist folder (ending /).
 * @param {{engine?: string, threads?: number}} options engine: 'auto',
 *   'webgpu' or 'wasm'; threads: WebAssembly threads (default: all cores
 *   where the page is cross-origin isolated, else 1).
 * @returns {Promise<Object>} {ort, name ('webgpu' or 'wasm'), threads,
 *   isolated, notes: string[]}.
 */
export async function loadEngine(ortBase, options = {}) {
  if (engine) return engine;
  const wanted = options.engine || 'auto';
  if (!['auto', 'webgpu', 'wasm'].includes(wanted)) {
    throw new Error(`unknown engine '${wanted}': use auto, webgpu or wasm`);
  }
  const notes = [];
  let adapter = null;
  if (wanted !== 'wasm') {
    if (!globalThis.navigator || !navigator.gpu) {
      notes.push('this browser has no WebGPU');
    } else {
      try {
        adapter = await navigator.gpu.requestAdapter();
      } catch (error) {
        notes.push(`WebGPU adapter request failed: ${error.message}`);
      }
      if (!adapter && !notes.length) notes.push('WebGPU has no adapter here');
    }
    if (wanted === 'webgpu' && !adapter) {
      notes.push('falling back to WebAssembly');
    }
  }
  const useGpu = adapter !== null;
  const file = useGpu ? 'ort.min.mjs' : 'ort.wasm.min.mjs';
  let ort;
  try {
    ort = await import(new URL(file, ortBase).href);
  } catch (error) {
    throw new Error(`could not load onnxruntime-web from ${ortBase}${file}` +
      ` (${error.message}); serve the page with mmpose-light-runtime serve`);
  }
  const isolated = Boolean(globalThis.crossOriginIsolated);
  const cores = (globalThis.navigator && navigator.hardwareConcurrency) || 1;
  let threads = options.threads || cores;
  if (!isolated && threads > 1) {
    notes.push('not cross-origin isolated (COOP/COEP headers missing): ' +
      'WebAssembly runs on 1 thread');
    threads = 1;
  }
  ort.env.wasm.wasmPaths = ortBase;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  engine = { ort, name: useGpu ? 'webgpu' : 'wasm', threads, isolated,
    notes };
  return engine;
}

/** The engine loaded by loadEngine, or null. */
export function currentEngine() {
  return engine;
}

/**
 * An ONNX model on the page's engine.
 */
export class Backend {
  /**
   * Load a model file.
   * @param {Uint8Array} bytes The ONNX file.
   * @param {string} source Its name, for messages.
   * @returns {Promise<Backend>}
   */
  static async create(bytes, source) {
    if (!engine) throw new Error('loadEngine() first');
    const info = readOnnxInfo(bytes, source);
    const providers = engine.name === 'webgpu' ? ['webgpu', 'wasm'] :
      ['wasm'];
    let session = null;
    let lastError = null;
    for (const provider of providers) {
      try {
        session = await engine.ort.InferenceSession.create(bytes, {
          executionProviders: [provider],
          graphOptimizationLevel: 'all',
        });
        return new Backend(session, info, source, provider);
      } catch (error) {
        lastError = error;
        if (provider !== providers[providers.length - 1]) {
          engine.notes.push(`${source} on ${provider} failed ` +
            `(${error.message}); running it on WebAssembly`);
        }
      }
    }
    throw new Error(`the browser's engine cannot run ${source}: ` +
      `${lastError.message} (its operators: ${info.ops.join(', ')})`);
  }

  constructor(session, info, source, provider) {
    this.session = session;
    this.metadata = info.metadata;
    this.ops = info.ops;
    this.source = source;
    this.provider = provider;
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
  }

  /**
   * Run the network on one float32 input.
   * @param {Float32Array} data The input, row-major.
   * @param {number[]} dims Its shape.
   * @returns {Promise<Object<string,{data: Float32Array, dims: number[]}>>}
   *   The outputs by name.
   */
  async run(data, dims) {
    const tensor = new engine.ort.Tensor('float32', data, dims);
    const outputs = await this.session.run({ [this.inputNames[0]]: tensor });
    const result = {};
    for (const name of this.outputNames) {
      const out = outputs[name];
      result[name] = { data: out.data, dims: Array.from(out.dims) };
    }
    return result;
  }
}
