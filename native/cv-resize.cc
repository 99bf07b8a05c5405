// OpenCV's fixed-point INTER_LINEAR on 8-bit interleaved pixels (shared/preprocess/native.ts
// loads it; shared/preprocess/opencv-resize.ts holds the same kernel in JavaScript and computes
// the taps and weights both use). Integer arithmetic only, so both give identical bytes:
// horizontal D = S[x0] * a0 + S[x1] * a1, vertical VResizeLinear<uchar>
// (((b0 * (D0 >> 4)) >> 16) + ((b1 * (D1 >> 4)) >> 16) + 2) >> 2.
#include <napi.h>

#include <cstdint>
#include <vector>

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

void Horizontal(const uint8_t* row, const int32_t* taps, const int32_t* w, int dw, int cn,
                int32_t* into) {
  for (int dx = 0, o = 0; dx < dw; dx++) {
    const uint8_t* p0 = row + taps[2 * dx];
    const uint8_t* p1 = row + taps[2 * dx + 1];
    const int32_t a0 = w[2 * dx], a1 = w[2 * dx + 1];
    for (int c = 0; c < cn; c++, o++) into[o] = p0[c] * a0 + p1[c] * a1;
  }
}

}  // namespace

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
        Horizontal(s + s0 * stride, xt, xw, static_cast<int>(dw), static_cast<int>(cn), rowA);
        idxA = s0;
      }
    }
    if (s1 != idxB) {
      if (s1 == idxA) {
        std::copy(rowA, rowA + rowLen, rowB);
      } else {
        Horizontal(s + s1 * stride, xt, xw, static_cast<int>(dw), static_cast<int>(cn), rowB);
      }
      idxB = s1;
    }
    const int32_t b0 = yw[2 * dy], b1 = yw[2 * dy + 1];
    uint8_t* o = out + dy * rowLen;
    for (int i = 0; i < rowLen; i++) {
      o[i] = static_cast<uint8_t>((((b0 * (rowA[i] >> 4)) >> 16) + ((b1 * (rowB[i] >> 4)) >> 16) + 2) >> 2);
    }
  }
  return env.Undefined();
}

}  // namespace bmfleet
