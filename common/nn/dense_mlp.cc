#include "common/nn/dense_mlp.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include <glog/logging.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

extern "C" {
#include <cblas.h>
}

namespace gorl::nn {
namespace {

// OpenBLAS (the BLAS this project installs, docs/toolchain.md) runs a
// sgemm on its OpenMP threads once m * n * k exceeds 4 * 65536 and on the
// calling thread below that. An actor thread must stay one thread (the
// other cores step environments or run other actors), so larger products
// are split into row blocks under that bound; at the presets' widths (up to
// 256) a block still has >= 4 rows, enough for the BLAS kernels' speed.
constexpr int64_t kSingleThreadedProduct = 4L * 65536;

}  // namespace

void MatMul(const float* x, int rows, int k, int ldx, const float* w, int n, int ldw, float* y,
            int ldy, bool accumulate) {
  if (rows <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int r = 0; r < rows; ++r) std::fill_n(y + static_cast<int64_t>(r) * ldy, n, 0.0f);
    }
    return;
  }
  const int block = static_cast<int>(
      std::max<int64_t>(1, kSingleThreadedProduct / (static_cast<int64_t>(n) * k)));
  for (int r0 = 0; r0 < rows; r0 += block) {
    const int m = std::min(block, rows - r0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
                x + static_cast<int64_t>(r0) * ldx, ldx, w, ldw, accumulate ? 1.0f : 0.0f,
                y + static_cast<int64_t>(r0) * ldy, ldy);
  }
}

namespace internal {

void SiluPortable(float* y, int count) {
  for (int i = 0; i < count; ++i) y[i] = y[i] / (1.0f + std::exp(-y[i]));
}

#if defined(__x86_64__)
// Eight lanes at a time, exp(-v) by Cephes' expf: range reduction to |r| <=
// ln 2 / 2, a degree-6 polynomial, 2^n from exponent bits (relative error
// ~2e-7). A libm expf per element cost more than the layers' sgemm, and
// GCC's auto-vectorisation of the same formula was 6x slower than this.
// The clamp keeps 2^n a normal float.
__attribute__((target("avx2,fma"))) void SiluAvx2(float* y, int count) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 magic = _mm256_set1_ps(12582912.0f);  // 1.5 * 2^23: adding it rounds
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 v = _mm256_loadu_ps(y + i);
    const __m256 x =
        _mm256_min_ps(_mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), v), _mm256_set1_ps(-87.0f)),
                      _mm256_set1_ps(88.0f));
    const __m256 shifted = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic);
    const __m256 n = _mm256_sub_ps(shifted, magic);
    // n's integer value sits in shifted's low mantissa bits.
    const __m256i exponent = _mm256_slli_epi32(
        _mm256_add_epi32(
            _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x4B400000)),
            _mm256_set1_epi32(127)),
        23);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, one));  // exp(r)
    const __m256 denominator = _mm256_fmadd_ps(p, _mm256_castsi256_ps(exponent), one);
    _mm256_storeu_ps(y + i, _mm256_div_ps(v, denominator));
  }
  SiluPortable(y + i, count - i);
}
#endif

}  // namespace internal

void SiluInPlace(float* y, int count) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) {
    internal::SiluAvx2(y, count);
    return;
  }
#endif
  internal::SiluPortable(y, count);
}

DenseMlp::DenseMlp(std::vector<DenseLayer> layers) : layers_(std::move(layers)) {
  CHECK(!layers_.empty()) << "DenseMlp: no layers";
  for (size_t i = 0; i < layers_.size(); ++i) {
    const DenseLayer& layer = layers_[i];
    CHECK_GT(layer.in, 0);
    CHECK_GT(layer.out, 0);
    CHECK_EQ(layer.weight.size(), static_cast<size_t>(layer.in) * layer.out) << "layer " << i;
    CHECK_EQ(layer.bias.size(), static_cast<size_t>(layer.out)) << "layer " << i;
    if (i > 0) CHECK_EQ(layer.in, layers_[i - 1].out) << "layer " << i << " input width";
  }
}

void DenseMlp::Forward(const float* x, int rows, float* y, Workspace& ws) const {
  const DenseLayer& first = layers_.front();
  if (layers_.size() == 1) {
    for (int r = 0; r < rows; ++r) {
      std::memcpy(y + static_cast<size_t>(r) * first.out, first.bias.data(),
                  first.out * sizeof(float));
    }
    MatMul(x, rows, first.in, first.in, first.weight.data(), first.out, first.out, y, first.out,
           /*accumulate=*/true);
    return;
  }
  ws.a.resize(static_cast<size_t>(rows) * first.out);
  for (int r = 0; r < rows; ++r) {
    std::memcpy(ws.a.data() + static_cast<size_t>(r) * first.out, first.bias.data(),
                first.out * sizeof(float));
  }
  MatMul(x, rows, first.in, first.in, first.weight.data(), first.out, first.out, ws.a.data(),
         first.out, /*accumulate=*/true);
  ForwardFromFirstPreActivation(ws.a.data(), rows, y, ws);
}

void DenseMlp::ForwardFromFirstPreActivation(float* h0, int rows, float* y, Workspace& ws) const {
  float* in = h0;
  for (size_t i = 1; i < layers_.size(); ++i) {
    const DenseLayer& layer = layers_[i];
    SiluInPlace(in, rows * layer.in);
    float* out = y;
    if (i + 1 < layers_.size()) {
      std::vector<float>& buffer = in == ws.b.data() ? ws.a : ws.b;
      buffer.resize(static_cast<size_t>(rows) * layer.out);
      out = buffer.data();
    }
    for (int r = 0; r < rows; ++r) {
      std::memcpy(out + static_cast<size_t>(r) * layer.out, layer.bias.data(),
                  layer.out * sizeof(float));
    }
    MatMul(in, rows, layer.in, layer.in, layer.weight.data(), layer.out, layer.out, out, layer.out,
           /*accumulate=*/true);
    in = out;
  }
  if (layers_.size() == 1) {
    std::memcpy(y, h0, static_cast<size_t>(rows) * layers_[0].out * sizeof(float));
  }
}

}  // namespace gorl::nn
