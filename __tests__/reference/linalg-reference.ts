/**
 * Test-only references for the linear algebra, written to be obviously
 * correct rather than fast: unblocked Cholesky, cyclic Jacobi eigenvalues,
 * one-sided Jacobi SVD, chunk cosine straight from the definition, and a
 * seeded random source (mulberry32 + Box-Muller) with random orthogonal matrices.
 */

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** uniform in [0, 1) */
  uniform(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  normals(n: number): Float64Array {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal();
    return a;
  }
}

/** C = A Bᵀ for row-major A (m×k), B (n×k). */
export function multiplyABt(a: Float64Array, b: Float64Array, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
      c[i * n + j] = s;
    }
  return c;
}

export function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

/** A random n×n orthogonal matrix: Gram-Schmidt (twice) on Gaussian rows. */
export function randomOrthogonal(n: number, rng: Rng): Float64Array {
  const q = rng.normals(n * n);
  for (let i = 0; i < n; i++) {
    for (let pass = 0; pass < 2; pass++)
      for (let j = 0; j < i; j++) {
        let d = 0;
        for (let t = 0; t < n; t++) d += q[i * n + t] * q[j * n + t];
        for (let t = 0; t < n; t++) q[i * n + t] -= d * q[j * n + t];
      }
    let norm = 0;
    for (let t = 0; t < n; t++) norm += q[i * n + t] ** 2;
    norm = Math.sqrt(norm);
    for (let t = 0; t < n; t++) q[i * n + t] /= norm;
  }
  return q;
}

/** M = U diag(σ) Vᵀ (rows×cols) with random orthogonal U, V: its singular values are exactly σ. */
export function matrixWithSingularValues(sigma: number[], rows: number, cols: number, rng: Rng): Float64Array {
  const u = randomOrthogonal(rows, rng);
  const v = randomOrthogonal(cols, rng);
  const m = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < sigma.length; k++) s += u[i * rows + k] * sigma[k] * v[j * cols + k];
      m[i * cols + j] = s;
    }
  return m;
}

/** Unblocked Cholesky L (lower, row-major); throws on a non-positive pivot. */
export function naiveCholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j];
    for (let p = 0; p < j; p++) s -= l[j * n + p] ** 2;
    if (!(s > 0)) throw new Error(`not positive definite at pivot ${j}`);
    l[j * n + j] = Math.sqrt(s);
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j];
      for (let p = 0; p < j; p++) t -= l[i * n + p] * l[j * n + p];
      l[i * n + j] = t / l[j * n + j];
    }
  }
  return l;
}

/** x with L Lᵀ x = b. */
export function naiveCholeskySolve(a: Float64Array, n: number, b: Float64Array): Float64Array {
  const l = naiveCholesky(a, n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let t = b[i];
    for (let p = 0; p < i; p++) t -= l[i * n + p] * y[p];
    y[i] = t / l[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let t = y[i];
    for (let p = i + 1; p < n; p++) t -= l[p * n + i] * x[p];
    x[i] = t / l[i * n + i];
  }
  return x;
}

/** Cyclic Jacobi: eigenvalues ascending and unit eigenvectors as rows. */
export function jacobiEigen(input: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(input);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30 * (1 + a.reduce((s, x) => s + x * x, 0))) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // A ← Jᵀ A J on columns then rows p, q
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const idx = [...Array(n).keys()].sort((x, y) => a[x * n + x] - a[y * n + y]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  idx.forEach((col, i) => {
    values[i] = a[col * n + col];
    for (let k = 0; k < n; k++) vectors[i * n + k] = v[k * n + col];
  });
  return { values, vectors };
}

/** One-sided Jacobi SVD: singular values of a rows×cols matrix, descending. */
export function jacobiSingularValues(m: ArrayLike<number>, rows: number, cols: number): Float64Array {
  // orthogonalise the columns of the taller orientation
  const tall = rows >= cols;
  const r = tall ? rows : cols;
  const c = tall ? cols : rows;
  const u = new Float64Array(r * c); // column-major: column j at [j*r, (j+1)*r)
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      if (tall) u[j * r + i] = m[i * cols + j];
      else u[i * r + j] = m[i * cols + j];
    }
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < c; p++)
      for (let q = p + 1; q < c; q++) {
        let alpha = 0, beta = 0, gamma = 0;
        for (let k = 0; k < r; k++) {
          alpha += u[p * r + k] ** 2;
          beta += u[q * r + k] ** 2;
          gamma += u[p * r + k] * u[q * r + k];
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + t * t);
        const sn = cs * t;
        for (let k = 0; k < r; k++) {
          const up = u[p * r + k], uq = u[q * r + k];
          u[p * r + k] = cs * up - sn * uq;
          u[q * r + k] = sn * up + cs * uq;
        }
      }
    if (!rotated) break;
  }
  const s = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let t = 0;
    for (let k = 0; k < r; k++) t += u[j * r + k] ** 2;
    s[j] = Math.sqrt(t);
  }
  return s.sort((a, b) => b - a);
}

/** k×k cosine matrix of chunk sums, straight from the definition. */
export function naiveChunkCosine(order: ArrayLike<number | bigint>, feats: ArrayLike<number>, d: number, k: number): Float64Array {
  const L = order.length;
  const sums: number[][] = [];
  for (let c = 0; c < k; c++) {
    const s = new Array<number>(d).fill(0);
    for (let p = Math.floor((c * L) / k); p < Math.floor(((c + 1) * L) / k); p++) {
      const row = Number(order[p]);
      for (let j = 0; j < d; j++) s[j] += feats[row * d + j];
    }
    sums.push(s);
  }
  const dot = (x: number[], y: number[]) => x.reduce((acc, v, j) => acc + v * y[j], 0);
  const out = new Float64Array(k * k);
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++) out[a * k + b] = dot(sums[a], sums[b]) / Math.sqrt(dot(sums[a], sums[a]) * dot(sums[b], sums[b]));
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
