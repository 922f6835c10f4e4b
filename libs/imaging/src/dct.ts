/**
 * The top-left `keep` x `keep` coefficients of the 2D DCT-II of an n x n block (row-major), unnormalised:
 * X[u][v] = sum_x sum_y f(x,y) cos(pi/n (x+1/2) u) cos(pi/n (y+1/2) v). Separable, and only the kept
 * frequencies are computed (n*n*keep + n*keep*keep products, ~35k for a pHash).
 * @throws {RangeError} when `block` does not hold n*n values or keep > n
 */
export function dct2dTopLeft(block: ArrayLike<number>, n: number, keep: number): Float64Array {
  if (block.length !== n * n || keep > n) {
    throw new RangeError(`Expected ${n}x${n} = ${n * n} values and keep <= ${n}; got ${block.length} values, keep ${keep}`);
  }
  const cos = cosineTable(n, keep);
  // Rows first: rowFreq[y][u] = sum_x f(x, y) cos(u, x)
  const rowFreq = new Float64Array(n * keep);
  for (let y = 0; y < n; y++) {
    for (let u = 0; u < keep; u++) {
      let sum = 0;
      for (let x = 0; x < n; x++) sum += block[y * n + x]! * cos[u * n + x]!;
      rowFreq[y * keep + u] = sum;
    }
  }
  // Then columns: out[v][u] = sum_y rowFreq[y][u] cos(v, y)
  const out = new Float64Array(keep * keep);
  for (let v = 0; v < keep; v++) {
    for (let u = 0; u < keep; u++) {
      let sum = 0;
      for (let y = 0; y < n; y++) sum += rowFreq[y * keep + u]! * cos[v * n + y]!;
      out[v * keep + u] = sum;
    }
  }
  return out;
}

const tables = new Map<string, Float64Array>();

function cosineTable(n: number, keep: number): Float64Array {
  const key = `${n}:${keep}`;
  let table = tables.get(key);
  if (!table) {
    table = new Float64Array(keep * n);
    for (let k = 0; k < keep; k++) for (let x = 0; x < n; x++) table[k * n + x] = Math.cos((Math.PI / n) * (x + 0.5) * k);
    tables.set(key, table);
  }
  return table;
}
