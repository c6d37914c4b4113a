// The pipeline settings a model file carries, as meta.py reads them.
//
// tools/export_onnx.py stores them as JSON under the key 'mmpose_light' of
// the ONNX file's metadata_props, tools/export_detector.py under
// 'mmpose_light_detector'. onnxruntime-web does not expose metadata_props,
// so readOnnxInfo walks the file's protobuf for them (and for the operator
// types, which name the culprit when the browser's engine refuses a file).

export const META_KEY = 'mmpose_light';
export const META_VERSION = 2;
export const DETECTOR_META_KEY = 'mmpose_light_detector';
export const DETECTOR_META_VERSION = 1;
// the codecs the page decodes (codecs.js)
export const PAGE_CODECS = ['MSRAHeatmap', 'RegressionLabel', 'SimCCLabel'];

const REQUIRED = ['input_name', 'output_names', 'input_size', 'codec',
  'preprocess', 'rescore'];
const DETECTOR_REQUIRED = ['input_name', 'output_names', 'input_size',
  'preprocess', 'postprocess'];
const DETECTOR_GROUPS = {
  preprocess: ['mean', 'std', 'to_rgb', 'pad_value'],
  postprocess: ['score_thr', 'nms_pre', 'iou_thr', 'max_per_img',
    'min_bbox_size'],
};

/** Fields of one protobuf message: [fieldNumber, wireType, value] where
 * value is a number (varint, fixed) or a Uint8Array (length-delimited). */
function* fields(bytes, start = 0, end = bytes.length) {
  let pos = start;
  const varint = () => {
    let result = 0;
    let shift = 1;
    for (;;) {
      if (pos >= end) throw new Error('truncated varint');
      const byte = bytes[pos++];
      result += (byte & 0x7f) * shift;
      if (byte < 0x80) return result;
      shift *= 128;
    }
  };
  while (pos < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      yield [field, wire, varint()];
    } else if (wire === 1) {
      pos += 8;
      yield [field, wire, null];
    } else if (wire === 2) {
      const length = varint();
      if (pos + length > end) throw new Error('truncated field');
      yield [field, wire, bytes.subarray(pos, pos + length)];
      pos += length;
    } else if (wire === 5) {
      pos += 4;
      yield [field, wire, null];
    } else {
      throw new Error(`unknown wire type ${wire}`);
    }
    if (pos > end) throw new Error('truncated field');
  }
}

const utf8 = new TextDecoder();

/**
 * The metadata_props and operator types of an ONNX file.
 * @param {Uint8Array} bytes The file.
 * @param {string} source The file's name, for messages.
 * @returns {{metadata: Object<string,string>, ops: string[]}}
 */
export function readOnnxInfo(bytes, source) {
  const metadata = {};
  const ops = new Set();
  let sawGraph = false;
  try {
    for (const [field, wire, value] of fields(bytes)) {
      if (wire !== 2) continue;
      if (field === 14) {
        let key = '';
        let text = '';
        for (const [f, w, v] of fields(value)) {
          if (w === 2 && f === 1) key = utf8.decode(v);
          if (w === 2 && f === 2) text = utf8.decode(v);
        }
        metadata[key] = text;
      } else if (field === 7) {
        sawGraph = true;
        for (const [f, w, node] of fields(value)) {
          if (w !== 2 || f !== 1) continue;
          let op = '';
          let domain = '';
          for (const [nf, nw, v] of fields(node)) {
            if (nw === 2 && nf === 4) op = utf8.decode(v);
            if (nw === 2 && nf === 7) domain = utf8.decode(v);
          }
          ops.add(domain && domain !== 'ai.onnx' ? `${domain}::${op}` : op);
        }
      }
    }
  } catch (error) {
    throw new Error(`${source} is not an ONNX file (${error.message})`);
  }
  if (!sawGraph) {
    throw new Error(`${source} is not an ONNX model: it has no graph`);
  }
  return { metadata, ops: [...ops].sort() };
}

function loadJsonMeta(metadata, key, source) {
  try {
    return JSON.parse(metadata[key]);
  } catch (error) {
    throw new Error(`${source}: its '${key}' metadata is not valid JSON ` +
      `(${error.message})`);
  }
}

/**
 * Read and check a pose model's settings, as meta.parse_meta.
 * @param {Object<string,string>} metadata The file's metadata_props.
 * @param {string} source The file's name, for messages.
 * @returns {Object} The settings.
 */
export function parseMeta(metadata, source) {
  if (!(META_KEY in metadata) && DETECTOR_META_KEY in metadata) {
    throw new Error(`${source} is a person detector (it has ` +
      `'${DETECTOR_META_KEY}' metadata), not a pose model: open it as the ` +
      'detector');
  }
  if (!(META_KEY in metadata)) {
    throw new Error(`${source} has no '${META_KEY}' metadata, so the page ` +
      'does not know its input size, normalisation and codec; export it ' +
      'with tools/export_onnx.py');
  }
  const meta = loadJsonMeta(metadata, META_KEY, source);
  const version = meta && typeof meta === 'object' ? meta.version : null;
  if (version !== META_VERSION) {
    throw new Error(`${source} has pipeline metadata version ${version}; ` +
      `the page reads version ${META_VERSION}: export it again with ` +
      'tools/export_onnx.py');
  }
  const missing = REQUIRED.filter((key) => !(key in meta));
  if (missing.length) {
    throw new Error(`${source}: its '${META_KEY}' metadata lacks ` +
      `${missing.join(', ')}`);
  }
  const type = (meta.codec || {}).type;
  if (!PAGE_CODECS.includes(type)) {
    throw new Error(`${source} was exported with codec ${type}; the page ` +
      `decodes ${PAGE_CODECS.join(', ')}`);
  }
  return meta;
}

/**
 * Read and check a person detector's settings, as
 * meta.parse_detector_meta.
 * @param {Object<string,string>} metadata The file's metadata_props.
 * @param {string} source The file's name, for messages.
 * @returns {Object} The settings.
 */
export function parseDetectorMeta(metadata, source) {
  if (!(DETECTOR_META_KEY in metadata) && META_KEY in metadata) {
    throw new Error(`${source} is a pose model (it has '${META_KEY}' ` +
      'metadata), not a person detector: open it as the pose model');
  }
  if (!(DETECTOR_META_KEY in metadata)) {
    throw new Error(`${source} has no '${DETECTOR_META_KEY}' metadata; ` +
      'export the detector with tools/export_detector.py');
  }
  const meta = loadJsonMeta(metadata, DETECTOR_META_KEY, source);
  const version = meta && typeof meta === 'object' ? meta.version : null;
  if (version !== DETECTOR_META_VERSION) {
    throw new Error(`${source} has detector metadata version ${version}; ` +
      `the page reads version ${DETECTOR_META_VERSION}: export it again ` +
      'with tools/export_detector.py');
  }
  const missing = DETECTOR_REQUIRED.filter((key) => !(key in meta));
  for (const [group, keys] of Object.entries(DETECTOR_GROUPS)) {
    if (meta[group] && typeof meta[group] === 'object') {
      for (const key of keys) {
        if (!(key in meta[group])) missing.push(`${group}.${key}`);
      }
    }
  }
  if (missing.length) {
    throw new Error(`${source}: its '${DETECTOR_META_KEY}' metadata lacks ` +
      `${missing.join(', ')}`);
  }
  return meta;
}
