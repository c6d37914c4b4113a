// Checks and small numeric helpers shared by the page's modules, as
// checks.py is the runtime's.

/** Whether a value is an array or a typed array. */
export function isArrayLike(value) {
  return Array.isArray(value) || ArrayBuffer.isView(value);
}

/** A value as an error message names it. */
export function describe(value) {
  if (value === null || value === undefined) return String(value);
  if (isArrayLike(value)) return `an array of length ${value.length}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Check a number option.
 *
 * @param {string} name The option.
 * @param {*} value Its value.
 * @param {object} [bounds] `low` (with `lowOpen`: value > low), `allowNull`
 *   (null passes), `finite` (default true), `what` (how the message
 *   calls a valid value).
 * @returns {?number} The value.
 */
export function checkNumber(name, value, { low = null, lowOpen = false,
  allowNull = false, finite = true, what = null } = {}) {
  if (allowNull && (value === null || value === undefined)) return null;
  const ok = typeof value === 'number' && !Number.isNaN(value) &&
    (!finite || Number.isFinite(value)) &&
    (low === null || (lowOpen ? value > low : value >= low));
  if (!ok) {
    let expected = what || (finite ? 'a finite number' : 'a number');
    if (!what && low === 0) {
      expected = lowOpen ? 'a positive number' : 'a non-negative number';
    }
    throw new Error(`${name} should be ${expected}` +
                    `${allowNull ? ' or null' : ''}, but got ` +
                    `${describe(value)}`);
  }
  return value;
}

/** Round half to even, as OpenCV's `cvRound` and `saturate_cast`. */
export function roundHalfEven(v) {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Indices by descending value, equal values in index order (numpy's
 * `argsort(-values, kind='stable')`).
 *
 * @param {ArrayLike<number>} values
 * @param {number[]} [indices] The indices to order (default: all).
 * @returns {number[]}
 */
export function stableDescending(values, indices = null) {
  const order = indices ? indices.slice() : Array.from(values, (v, i) => i);
  return order.sort((a, b) => (values[b] - values[a]) || (a - b));
}
