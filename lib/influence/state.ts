/**
 * The accumulator state that influence scoring consumes: per-cluster gradient
 * sums and counts, the target sum, and the second-moment matrix Σ g gᵀ, all in
 * the projected space of dimension `dim`.
 */
export interface InfluenceState { dim: number; numClusters: number; count: Float64Array /*K*/; sum: Float64Array /*K*dim row-major*/; targetCount: number; targetSum: Float64Array /*dim*/; covCount: number; cov: Float64Array /*dim*dim row-major, Σ g gᵀ over covCount examples*/; meta: Record<string, unknown> }
