// OpenCV's fixed-point INTER_LINEAR on 8-bit interleaved pixels (shared/preprocess/opencv-resize.ts
// loads it, holds the same kernel in JavaScript and computes the taps and weights both use). Integer arithmetic only, so both give identical bytes:
// horizontal D = S[x0] * a0 + S[x1] * a1, vertical VResizeLinear<uchar>
// (((b0 * (D0 >> 4)) >> 16) + ((b1 * (D1 >> 4)) >> 16) + 2) >> 2.
#include <napi.h>

#include "cv-resize.h"

#include <cstdint>
#include <vector>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace bmfleet {

namespace {

bool Fail(const Napi::Env& env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return false;
}

template <typename T>
bool TypedOf(const Napi::Value& v, napi_typedarray_type type, T* out) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) return false;
  *out = v.As<T>();
  return true;
}

}  // namespace

void CvHorizontalRow(const uint8_t* row, const int32_t* taps, const int32_t* w, int dw, int cn,
                     int32_t* into) {
  if (cn == 3) {
    for (int dx = 0; dx < dw; dx++, into += 3) {
      const uint8_t* p0 = row + taps[2 * dx];
      const uint8_t* p1 = row + taps[2 * dx + 1];
      const int32_t a0 = w[2 * dx], a1 = w[2 * dx + 1];
      into[0] = p0[0] * a0 + p1[0] * a1;
      into[1] = p0[1] * a0 + p1[1] * a1;
      into[2] = p0[2] * a0 + p1[2] * a1;
    }
    return;
  }
  for (int dx = 0, o = 0; dx < dw; dx++) {
    const uint8_t* p0 = row + taps[2 * dx];
    const uint8_t* p1 = row + taps[2 * dx + 1];
    const int32_t a0 = w[2 * dx], a1 = w[2 * dx + 1];
    for (int c = 0; c < cn; c++, o++) into[o] = p0[c] * a0 + p1[c] * a1;
  }
}

bool CvWeightsFit(const int32_t* xw, const int32_t* yw, int64_t dw, int64_t dh) {
  for (int64_t i = 0; i < dw; i++) {
    const int32_t a0 = xw[2 * i], a1 = xw[2 * i + 1];
    if (a0 < 0 || a0 > 2048 || a1 < 0 || a1 > 2048 || a0 + a1 > 2056) return false;
  }
  for (int64_t i = 0; i < 2 * dh; i++) {
    if (yw[i] < 0 || yw[i] > 2048) return false;
  }
  return true;
}

void CvVerticalRow(const int32_t* a, const int32_t* b, int32_t b0, int32_t b1, int n,
                   uint8_t* out) {
  int i = 0;
#ifdef __SSE2__
  // OpenCV's own SSE2 form (VResizeLinearVec_32s8u): D >> 4 fits int16 (D <= 255 * 2048) and
  // the weights do too, so (b * (D >> 4)) >> 16 is exactly _mm_mulhi_epi16. SSE2 is part of
  // every x86-64, so no runtime dispatch is needed.
  const __m128i w0 = _mm_set1_epi16(static_cast<int16_t>(b0));
  const __m128i w1 = _mm_set1_epi16(static_cast<int16_t>(b1));
  const __m128i two = _mm_set1_epi16(2);
  auto load8 = [](const int32_t* p) {
    const __m128i lo = _mm_srai_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), 4);
    const __m128i hi =
        _mm_srai_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4)), 4);
    return _mm_packs_epi32(lo, hi);
  };
  for (; i + 16 <= n; i += 16) {
    __m128i r0 = _mm_add_epi16(_mm_mulhi_epi16(load8(a + i), w0), _mm_mulhi_epi16(load8(b + i), w1));
    __m128i r1 =
        _mm_add_epi16(_mm_mulhi_epi16(load8(a + i + 8), w0), _mm_mulhi_epi16(load8(b + i + 8), w1));
    r0 = _mm_srai_epi16(_mm_add_epi16(r0, two), 2);
    r1 = _mm_srai_epi16(_mm_add_epi16(r1, two), 2);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(r0, r1));
  }
#endif
  for (; i < n; i++) {
    out[i] = static_cast<uint8_t>((((b0 * (a[i] >> 4)) >> 16) + ((b1 * (b[i] >> 4)) >> 16) + 2) >> 2);
  }
}

// cvLinearResize(src: Uint8Array, srcWidth, srcHeight, channels, xTaps: Int32Array (2 per
// output column, element offsets), xWeights: Int32Array, yRows: Int32Array (2 per output row),
// yWeights: Int32Array, dst: Uint8Array, dstWidth, dstHeight): void
Napi::Value CvLinearResize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array src, dst;
  Napi::Int32Array xTaps, xWeights, yRows, yWeights;
  const bool ok = info.Length() == 11 && TypedOf(info[0], napi_uint8_array, &src) &&
                  info[1].IsNumber() && info[2].IsNumber() && info[3].IsNumber() &&
                  TypedOf(info[4], napi_int32_array, &xTaps) &&
                  TypedOf(info[5], napi_int32_array, &xWeights) &&
                  TypedOf(info[6], napi_int32_array, &yRows) &&
                  TypedOf(info[7], napi_int32_array, &yWeights) &&
                  TypedOf(info[8], napi_uint8_array, &dst) && info[9].IsNumber() &&
                  info[10].IsNumber();
  if (!ok) {
    Fail(env, "cvLinearResize(src, sw, sh, cn, xTaps, xWeights, yRows, yWeights, dst, dw, dh)");
    return env.Undefined();
  }
  const int64_t sw = info[1].As<Napi::Number>().Int64Value();
  const int64_t sh = info[2].As<Napi::Number>().Int64Value();
  const int64_t cn = info[3].As<Napi::Number>().Int64Value();
  const int64_t dw = info[9].As<Napi::Number>().Int64Value();
  const int64_t dh = info[10].As<Napi::Number>().Int64Value();
  if (sw < 1 || sh < 1 || cn < 1 || cn > 4 || dw < 1 || dh < 1 ||
      static_cast<int64_t>(src.ElementLength()) != sw * sh * cn ||
      static_cast<int64_t>(dst.ElementLength()) != dw * dh * cn ||
      static_cast<int64_t>(xTaps.ElementLength()) != 2 * dw ||
      static_cast<int64_t>(xWeights.ElementLength()) != 2 * dw ||
      static_cast<int64_t>(yRows.ElementLength()) != 2 * dh ||
      static_cast<int64_t>(yWeights.ElementLength()) != 2 * dh) {
    Fail(env, "cvLinearResize: sizes do not agree");
    return env.Undefined();
  }
  const int32_t* xt = xTaps.Data();
  for (int64_t i = 0; i < 2 * dw; i++) {
    if (xt[i] < 0 || xt[i] > (sw - 1) * cn) {
      Fail(env, "cvLinearResize: column tap out of range");
      return env.Undefined();
    }
  }
  if (!CvWeightsFit(xWeights.Data(), yWeights.Data(), dw, dh)) {
    Fail(env, "cvLinearResize: weights outside [0, 2048]");
    return env.Undefined();
  }
  const int32_t* yr = yRows.Data();
  for (int64_t i = 0; i < 2 * dh; i++) {
    if (yr[i] < 0 || yr[i] >= sh) {
      Fail(env, "cvLinearResize: row out of range");
      return env.Undefined();
    }
  }
  const int rowLen = static_cast<int>(dw * cn);
  std::vector<int32_t> bufA(rowLen), bufB(rowLen);
  int32_t* rowA = bufA.data();
  int32_t* rowB = bufB.data();
  int64_t idxA = -1, idxB = -1;
  const uint8_t* s = src.Data();
  uint8_t* out = dst.Data();
  const int32_t* xw = xWeights.Data();
  const int32_t* yw = yWeights.Data();
  const int64_t stride = sw * cn;
  for (int64_t dy = 0; dy < dh; dy++) {
    const int64_t s0 = yr[2 * dy], s1 = yr[2 * dy + 1];
    if (s0 != idxA) {
      if (s0 == idxB) {
        std::swap(rowA, rowB);
        std::swap(idxA, idxB);
      } else {
        CvHorizontalRow(s + s0 * stride, xt, xw, static_cast<int>(dw), static_cast<int>(cn), rowA);
        idxA = s0;
      }
    }
    if (s1 != idxB) {
      if (s1 == idxA) {
        std::copy(rowA, rowA + rowLen, rowB);
      } else {
        CvHorizontalRow(s + s1 * stride, xt, xw, static_cast<int>(dw), static_cast<int>(cn), rowB);
      }
      idxB = s1;
    }
    const int32_t b0 = yw[2 * dy], b1 = yw[2 * dy + 1];
    CvVerticalRow(rowA, rowB, b0, b1, rowLen, out + dy * rowLen);
  }
  return env.Undefined();
}

}  // namespace bmfleet
