// The two per-group passes of the target-table march (integrate.cpp), over one
// chunk of groups. Sums run in four fixed lanes combined in a fixed order, so
// the AVX2 clone and the portable build give bit-identical results (the build
// uses -ffp-contract=off, so neither fuses multiply-adds).
#pragma once
#include <cstddef>

namespace curricula::curriculum {

// With c_k = exp(bs_k hs) (a Taylor polynomial when `taylor`, i.e. all |bs_k hs| <= 1e-3):
// z[t] = Σ_k p_k c_k^t for t < M (assigned, not added), cpow[k] = c_k and
// lastPow[k] = p_k c_k^{M-1}, for k < n.
void powerSums(const double* bs, const double* p, size_t n, double hs, bool taylor, size_t M, double* cpow,
               double* lastPow, double* z);

struct CellStats {
  double bbar = 0;  // Σ_k p_k bs_k of the new p
  double qa = 0;    // max_k p_k |bs_k − bbarOld|
  double qb = 0;    // max_k p_k
};

// For k < n: the cell's increment p_k Σ_t omega[t] c_k^t (Horner) is added to
// (E_k, comp_k) by Neumaier's compensated sum, row_k = E_k + comp_k, and p_k
// becomes lastPow_k · zInv. Returns the statistics of the new p.
CellStats advanceCell(const double* omega, size_t M, const double* cpow, const double* lastPow, double zInv,
                      const double* bs, double bbarOld, double* E, double* comp, double* p, double* row, size_t n);

// True when the AVX2 clones run (CPU support, and CURRICULA_NO_AVX2 unset or "0").
bool marchUsesAvx2();

}  // namespace curricula::curriculum
