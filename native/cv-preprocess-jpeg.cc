// cv2.imread + cv2.resize + the tensor layout for one JPEG in a single pass on a libuv worker
// (shared/preprocess/opencv-jpeg.ts). Each scanline libjpeg hands back is consumed at once:
// - two-tap kernels (INTER_LINEAR, INTER_NEAREST as taps 2048/0, INTER_AREA enlarging): the row
//   goes through the horizontal taps if an output row needs it, and an output row is finished as
//   soon as its second source row has arrived;
// - INTER_AREA shrinking: the row's horizontal area sums are added into the output row it belongs
//   to (float32, in ResizeArea_Invoker's order), which is finished when its last row has arrived.
// Finished rows are written straight into the tensor through the per-channel value table. So the
// full-size image is never stored (one row of it is, plus two rows of sums), nothing is copied
// back to JavaScript, and no work is left for the main thread. Same libjpeg settings as
// jpeg-decode.cc and the same integer kernels as cv-resize.cc (the float ones as
// opencv-resize.ts), so the bytes equal the decode-then-resize path's; a file it declines (see
// jpeg-reader.h) resolves false and the caller takes that path instead.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cv-resize.h"
#include "jpeg-reader.h"

#ifdef __SSE2__
#include <xmmintrin.h>
#endif

namespace bmfleet {

namespace {

// geometry: Int32Array with these entries, in this order.
enum Geometry {
  kSrcWidth,
  kSrcHeight,
  kSrcChannels,  // 1 (grey) or 3 (RGB): what libjpeg must emit
  kResizeWidth,
  kResizeHeight,
  kOutWidth,
  kOutHeight,
  kOutChannels,
  kNchw,
  kWindowSrcX,  // the window of the resized image that is written...
  kWindowSrcY,
  kWindowWidth,
  kWindowHeight,
  kWindowDstX,  // ...and where it goes in the tensor
  kWindowDstY,
  kMap0,  // source channel of each tensor channel
  kMap1,
  kMap2,
  kGeometryLength
};

struct Job {
  const uint8_t* pixels;  // decoded rows (cvPreprocessPixels*), or null: decode `bytes`
  const uint8_t* bytes;
  size_t length;
  bool grey;
  double maxPixels;
  int32_t g[kGeometryLength];
  const int32_t* xTaps;
  const int32_t* xWeights;
  const int32_t* yRows;
  const int32_t* yWeights;
  // INTER_AREA shrinking instead of the taps above (xTaps null): areaPer source element offsets
  // and float32 weights per destination column, (destination, source) row pairs, and how sums
  // become bytes.
  const int32_t* areaTaps;
  const float* areaAlpha;
  size_t areaPer;
  const int32_t* yTab;
  const float* yAlpha;
  size_t yCount;
  int finishMode;  // 0: round(sum), 1: (sum + 2) >> 2, 2: round(sum * finishInv)
  float finishInv;
  const void* table;  // channels x 256 tensor elements
  void* out;
  size_t elementSize;  // 4 (float32) or 1 (int8, uint8): elements are copied, not computed
};

// One resized row (the window's columns, cn channels interleaved) into the tensor.
template <typename T>
void WriteRow(const Job& job, const uint8_t* resized, int64_t dy) {
  const int32_t* g = job.g;
  const int64_t W = g[kOutWidth], H = g[kOutHeight], C = g[kOutChannels], cn = g[kSrcChannels];
  const bool nchw = g[kNchw] != 0;
  const int64_t sx = nchw ? 1 : C, sy = nchw ? W : W * C, sc = nchw ? W * H : 1;
  const T* table = static_cast<const T*>(job.table);
  T* row = static_cast<T*>(job.out) + (g[kWindowDstY] + dy - g[kWindowSrcY]) * sy +
           int64_t{g[kWindowDstX]} * sx;
  const int width = g[kWindowWidth];
  for (int64_t c = 0; c < C; c++) {
    const T* lut = table + c * 256;
    const uint8_t* s = resized + g[kMap0 + c];
    T* d = row + c * sc;
    for (int x = 0; x < width; x++, s += cn, d += sx) *d = lut[*s];
  }
}

using RowWriter = void (*)(const Job&, const uint8_t*, int64_t);

// Decodes the file row by row into onRow(row, index). False: libjpeg declined the file or warned
// about it; the caller decodes the other way.
template <typename OnRow>
bool DecodeRows(const Job& job, OnRow&& onRow) {
  const int32_t* g = job.g;
  const int sw = g[kSrcWidth], sh = g[kSrcHeight], cn = g[kSrcChannels];
  std::vector<uint8_t> scanline(static_cast<size_t>(sw) * static_cast<size_t>(cn));
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  JpegInitErrors(&cinfo, &err);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, job.bytes, static_cast<unsigned long>(job.length));
  // The caller planned from its own header read; the bytes must still describe that image.
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK ||
      !JpegPrepareOutput(&cinfo, job.grey, job.maxPixels) ||
      static_cast<int64_t>(cinfo.image_width) != sw ||
      static_cast<int64_t>(cinfo.image_height) != sh) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_components != cn) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    const int64_t r = cinfo.output_scanline;
    JSAMPROW row = scanline.data();
    jpeg_read_scanlines(&cinfo, &row, 1);
    onRow(row, r);
  }
  jpeg_finish_decompress(&cinfo);
  const long warnings = err.pub.num_warnings;
  jpeg_destroy_decompress(&cinfo);
  return warnings == 0;
}

// The rows of the source, in order: decoded from the JPEG, or read from decoded pixels.
template <typename OnRow>
bool ReadRows(const Job& job, OnRow&& onRow) {
  if (!job.pixels) return DecodeRows(job, onRow);
  const size_t stride = static_cast<size_t>(job.g[kSrcWidth]) * job.g[kSrcChannels];
  for (int64_t r = 0; r < job.g[kSrcHeight]; r++) onRow(job.pixels + r * stride, r);
  return true;
}

bool RunTwoTap(const Job& job, RowWriter write) {
  const int32_t* g = job.g;
  const int sh = g[kSrcHeight], cn = g[kSrcChannels];
  const int width = g[kWindowWidth];
  const int64_t y0 = g[kWindowSrcY], y1 = int64_t{g[kWindowSrcY]} + g[kWindowHeight];
  // Source rows a written output row needs, and the horizontal results of the last two.
  std::vector<uint8_t> needed(static_cast<size_t>(sh), 0);
  for (int64_t dy = y0; dy < y1; dy++) {
    needed[static_cast<size_t>(job.yRows[2 * dy])] = 1;
    needed[static_cast<size_t>(job.yRows[2 * dy + 1])] = 1;
  }
  const size_t rowLen = static_cast<size_t>(width) * static_cast<size_t>(cn);
  std::vector<int32_t> slot0(rowLen), slot1(rowLen);
  int32_t* slots[2] = {slot0.data(), slot1.data()};
  int64_t tags[2] = {-1, -1};
  std::vector<uint8_t> resized(rowLen);
  const int32_t* taps = job.xTaps + 2 * int64_t{g[kWindowSrcX]};
  const int32_t* weights = job.xWeights + 2 * int64_t{g[kWindowSrcX]};
  int64_t dy = y0;
  bool inOrder = true;
  const bool decoded = ReadRows(job, [&](const uint8_t* row, int64_t r) {
    if (!needed[static_cast<size_t>(r)]) return;
    CvHorizontalRow(row, taps, weights, width, cn, slots[r & 1]);
    tags[r & 1] = r;
    // Rows arrive in order and an output row reads rows s and s + 1 (or s twice), so it is
    // complete when its second row arrives, and both are then in the two slots.
    for (; dy < y1 && job.yRows[2 * dy + 1] <= r; dy++) {
      const int64_t s0 = job.yRows[2 * dy], s1 = job.yRows[2 * dy + 1];
      if (tags[s0 & 1] != s0 || tags[s1 & 1] != s1) {
        inOrder = false;
        break;
      }
      CvVerticalRow(slots[s0 & 1], slots[s1 & 1], job.yWeights[2 * dy], job.yWeights[2 * dy + 1],
                    static_cast<int>(rowLen), resized.data());
      write(job, resized.data(), dy);
    }
  });
  return decoded && inOrder && dy == y1;
}

// cvRound then saturate_cast<uchar>; NaN (never from a checked plan) maps to 0.
uint8_t SaturateRound(float v) {
  const float r = std::nearbyint(v);
  return !(r > 0) ? 0 : r > 255 ? 255 : static_cast<uint8_t>(r);
}

// One source row's horizontal area sums, buf[dx * CN + c] = sum over the column's taps of
// float(S) * alpha, each product and sum rounded to float32 in the taps' order. `row` is the
// source row already converted to float (one conversion per pixel, not per tap), with one spare
// element after it. Four columns are summed side by side so their additions overlap; for RGB one
// SSE lane per channel does the same float32 multiply and add as the scalar code (the fourth lane
// reads the next pixel and is thrown away), and buf has one spare element for its store.
template <int CN>
void AreaColumns(const Job& job, const float* row, int dw, float* buf) {
  const size_t per = job.areaPer;
  int d = 0;
#ifdef __SSE2__
  if (CN == 3) {
    for (; d + 4 <= dw; d += 4) {
      const int32_t* taps = job.areaTaps + static_cast<size_t>(d) * per;
      const float* alpha = job.areaAlpha + static_cast<size_t>(d) * per;
      __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
      for (size_t k = 0; k < per; k++) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(row + taps[k]), _mm_set1_ps(alpha[k])));
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(row + taps[per + k]),
                                       _mm_set1_ps(alpha[per + k])));
        s2 = _mm_add_ps(s2, _mm_mul_ps(_mm_loadu_ps(row + taps[2 * per + k]),
                                       _mm_set1_ps(alpha[2 * per + k])));
        s3 = _mm_add_ps(s3, _mm_mul_ps(_mm_loadu_ps(row + taps[3 * per + k]),
                                       _mm_set1_ps(alpha[3 * per + k])));
      }
      // In column order: each store's fourth lane is overwritten by the next column's first.
      _mm_storeu_ps(buf + d * 3, s0);
      _mm_storeu_ps(buf + d * 3 + 3, s1);
      _mm_storeu_ps(buf + d * 3 + 6, s2);
      _mm_storeu_ps(buf + d * 3 + 9, s3);
    }
  }
#endif
  for (; d < dw; d++) {
    float sum[CN] = {};
    const int32_t* taps = job.areaTaps + static_cast<size_t>(d) * per;
    const float* alpha = job.areaAlpha + static_cast<size_t>(d) * per;
    for (size_t k = 0; k < per; k++) {
      for (int c = 0; c < CN; c++) sum[c] = sum[c] + row[taps[k] + c] * alpha[k];
    }
    for (int c = 0; c < CN; c++) buf[d * CN + c] = sum[c];
  }
}

// INTER_AREA shrinking, as opencv-resize.ts's resizeAreaGeneral / resizeAreaInteger: every
// product and sum rounded to float32 in the same order (no FMA contraction: binding.gyp).
bool RunArea(const Job& job, RowWriter write) {
  const int32_t* g = job.g;
  const int cn = g[kSrcChannels];
  const size_t rowLen = static_cast<size_t>(g[kResizeWidth]) * static_cast<size_t>(cn);
  const int64_t y0 = g[kWindowSrcY], y1 = int64_t{g[kWindowSrcY]} + g[kWindowHeight];
  const size_t firstColumn = static_cast<size_t>(g[kWindowSrcX]) * static_cast<size_t>(cn);
  // One spare element each: AreaColumns' four-lane loads and stores (see there).
  std::vector<float> rowf(static_cast<size_t>(g[kSrcWidth]) * static_cast<size_t>(cn) + 1);
  std::vector<float> buf(rowLen + 1), sum(rowLen);
  std::vector<uint8_t> resized(rowLen);
  size_t yi = 0;
  int64_t prev = -1, written = 0;
  auto finish = [&](int64_t dy) {
    if (dy < y0 || dy >= y1) return;
    for (size_t i = 0; i < rowLen; i++) {
      const float v = sum[i];
      resized[i] = job.finishMode == 1   ? static_cast<uint8_t>((static_cast<int32_t>(v) + 2) >> 2)
                   : job.finishMode == 2 ? SaturateRound(v * job.finishInv)
                                         : SaturateRound(v);
    }
    write(job, resized.data() + firstColumn, dy);
    written++;
  };
  const bool decoded = ReadRows(job, [&](const uint8_t* row, int64_t r) {
    if (yi >= job.yCount || job.yTab[2 * yi + 1] != r) return;
    for (size_t i = 0; i + 1 < rowf.size(); i++) rowf[i] = static_cast<float>(row[i]);
    if (cn == 3) {
      AreaColumns<3>(job, rowf.data(), g[kResizeWidth], buf.data());
    } else {
      AreaColumns<1>(job, rowf.data(), g[kResizeWidth], buf.data());
    }
    // A row on the boundary of two output rows ends the first and starts the second.
    for (; yi < job.yCount && job.yTab[2 * yi + 1] == r; yi++) {
      const int64_t d = job.yTab[2 * yi];
      const float a = job.yAlpha[yi];
      if (d != prev) {
        if (prev >= 0) finish(prev);
        for (size_t i = 0; i < rowLen; i++) sum[i] = a * buf[i];
        prev = d;
      } else {
        for (size_t i = 0; i < rowLen; i++) sum[i] = sum[i] + a * buf[i];
      }
    }
  });
  if (prev >= 0) finish(prev);
  return decoded && yi == job.yCount && written == y1 - y0;
}

bool Run(const Job& job) {
  const RowWriter write = job.elementSize == 4 ? WriteRow<uint32_t> : WriteRow<uint8_t>;
  return job.xTaps ? RunTwoTap(job, write) : RunArea(job, write);
}

class PreprocessWorker : public Napi::AsyncWorker {
 public:
  PreprocessWorker(Napi::Env env, const Job& job, const Napi::CallbackInfo& info)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), job_(job) {
    // The typed arrays stay referenced until the promise settles: Execute reads and writes
    // their memory off the JavaScript thread.
    for (size_t i = 0; i < info.Length(); i++) {
      if (info[i].IsTypedArray()) keep_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
    }
  }

  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { ok_ = Run(job_); }
  void OnOK() override { deferred_.Resolve(Napi::Boolean::New(Env(), ok_)); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> keep_;
  Job job_;
  bool ok_ = false;
};

template <typename T>
bool TypedOf(const Napi::Value& v, napi_typedarray_type type, T* out) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) return false;
  *out = v.As<T>();
  return true;
}

// Everything the worker will index, checked here on the JavaScript thread: a wrong plan is a
// TypeError, never an out-of-bounds access.
const char* CheckGeometry(const Job& job, size_t table, size_t out) {
  const int32_t* g = job.g;
  const int64_t sw = g[kSrcWidth], sh = g[kSrcHeight], cn = g[kSrcChannels];
  const int64_t dw = g[kResizeWidth], dh = g[kResizeHeight];
  const int64_t W = g[kOutWidth], H = g[kOutHeight], C = g[kOutChannels];
  if (sw < 1 || sh < 1 || (cn != 1 && cn != 3) || dw < 1 || dh < 1 || W < 1 || H < 1 ||
      (C != 1 && C != 3) || (g[kNchw] != 0 && g[kNchw] != 1)) {
    return "cvPreprocessJpeg: bad sizes";
  }
  const int64_t sx = g[kWindowSrcX], sy = g[kWindowSrcY], w = g[kWindowWidth],
                h = g[kWindowHeight], dx = g[kWindowDstX], dyo = g[kWindowDstY];
  if (sx < 0 || sy < 0 || w < 0 || h < 0 || dx < 0 || dyo < 0 || sx + w > dw || sy + h > dh ||
      dx + w > W || dyo + h > H) {
    return "cvPreprocessJpeg: window outside the resized image or the tensor";
  }
  for (int64_t c = 0; c < C; c++) {
    if (g[kMap0 + c] < 0 || g[kMap0 + c] >= cn) return "cvPreprocessJpeg: bad channel map";
  }
  if (static_cast<int64_t>(out) != W * H * C || static_cast<int64_t>(table) < C * 256) {
    return "cvPreprocessJpeg: array lengths do not agree";
  }
  return nullptr;
}

const char* CheckTwoTap(const Job& job, size_t xTaps, size_t xWeights, size_t yRows,
                        size_t yWeights) {
  const int32_t* g = job.g;
  const int64_t sw = g[kSrcWidth], sh = g[kSrcHeight], cn = g[kSrcChannels];
  const int64_t dw = g[kResizeWidth], dh = g[kResizeHeight];
  if (static_cast<int64_t>(xTaps) != 2 * dw || static_cast<int64_t>(xWeights) != 2 * dw ||
      static_cast<int64_t>(yRows) != 2 * dh || static_cast<int64_t>(yWeights) != 2 * dh) {
    return "cvPreprocessJpeg: array lengths do not agree";
  }
  for (int64_t i = 0; i < 2 * dw; i++) {
    if (job.xTaps[i] < 0 || job.xTaps[i] > (sw - 1) * cn) return "cvPreprocessJpeg: column tap";
  }
  for (int64_t i = 0; i < dh; i++) {
    const int32_t s0 = job.yRows[2 * i], s1 = job.yRows[2 * i + 1];
    const bool ordered = i == 0 || (s0 >= job.yRows[2 * i - 2] && s1 >= job.yRows[2 * i - 1]);
    if (s0 < 0 || s1 >= sh || s1 < s0 || s1 > s0 + 1 || !ordered) {
      return "cvPreprocessJpeg: source rows must be s, s or s, s + 1, in order, in range";
    }
  }
  if (!CvWeightsFit(job.xWeights, job.yWeights, dw, dh)) {
    return "cvPreprocessJpeg: weights outside [0, 2048]";
  }
  return nullptr;
}

const char* CheckArea(const Job& job) {
  const int32_t* g = job.g;
  const int64_t sw = g[kSrcWidth], sh = g[kSrcHeight], cn = g[kSrcChannels];
  const int64_t dw = g[kResizeWidth], dh = g[kResizeHeight];
  if (job.finishMode < 0 || job.finishMode > 2 || !(job.finishInv >= 0 && job.finishInv <= 1)) {
    return "cvPreprocessJpegArea: bad finish";
  }
  // Integer factors sum whole pixels (weight 1); the general case weights fractions of one.
  auto weightOk = [&](float a) { return job.finishMode == 0 ? a >= 0 && a <= 1 : a == 1; };
  if (job.areaPer < 1) return "cvPreprocessJpegArea: column taps";
  for (size_t k = 0; k < job.areaPer * static_cast<size_t>(dw); k++) {
    const int64_t s = job.areaTaps[k];
    const float a = job.areaAlpha[k];
    if (s < 0 || s > (sw - 1) * cn || !(weightOk(a) || a == 0)) {
      return "cvPreprocessJpegArea: column tap";
    }
  }
  for (size_t k = 0; k < job.yCount; k++) {
    const int64_t d = job.yTab[2 * k], s = job.yTab[2 * k + 1];
    const bool ordered = k == 0 || (d >= job.yTab[2 * k - 2] && s >= job.yTab[2 * k - 1]);
    if (d < 0 || d >= dh || s < 0 || s >= sh || !ordered || !weightOk(job.yAlpha[k])) {
      return "cvPreprocessJpegArea: row entries must be in range and in order";
    }
  }
  return nullptr;
}

// The arguments every entry point shares: the source first (a JPEG: bytes, grey, maxPixels; or
// decoded pixels), then geometry, the plan from `*plan` on, and table and out last. False when
// they do not fit (the caller throws the TypeError naming its signature).
bool ParseCommon(const Napi::CallbackInfo& info, bool jpeg, Job* job, size_t* plan,
                 Napi::TypedArray* table, Napi::TypedArray* out) {
  const size_t n = info.Length();
  const size_t g = jpeg ? 3 : 1;
  Napi::Uint8Array source;
  Napi::Int32Array geometry;
  if (n < g + 3 || !TypedOf(info[0], napi_uint8_array, &source) ||
      (jpeg && (!info[1].IsBoolean() || !info[2].IsNumber())) ||
      !TypedOf(info[g], napi_int32_array, &geometry) ||
      geometry.ElementLength() != kGeometryLength || !info[n - 2].IsTypedArray() ||
      !info[n - 1].IsTypedArray()) {
    return false;
  }
  *table = info[n - 2].As<Napi::TypedArray>();
  *out = info[n - 1].As<Napi::TypedArray>();
  const napi_typedarray_type type = out->TypedArrayType();
  if (table->TypedArrayType() != type ||
      (type != napi_float32_array && type != napi_int8_array && type != napi_uint8_array)) {
    return false;
  }
  for (size_t i = 0; i < kGeometryLength; i++) job->g[i] = geometry[i];
  if (jpeg) {
    job->bytes = source.Data();
    job->length = source.ElementLength();
    job->grey = info[1].As<Napi::Boolean>().Value();
    job->maxPixels = info[2].As<Napi::Number>().DoubleValue();
  } else {
    // Checked before the geometry is: a source shorter than its stated size is refused here.
    const double size = static_cast<double>(job->g[kSrcWidth]) * job->g[kSrcHeight] *
                        job->g[kSrcChannels];
    if (job->g[kSrcWidth] < 1 || job->g[kSrcHeight] < 1 ||
        static_cast<double>(source.ElementLength()) != size) {
      return false;
    }
    job->pixels = source.Data();
  }
  job->elementSize = type == napi_float32_array ? 4 : 1;
  job->table = static_cast<const uint8_t*>(table->ArrayBuffer().Data()) + table->ByteOffset();
  job->out = static_cast<uint8_t*>(out->ArrayBuffer().Data()) + out->ByteOffset();
  *plan = g + 1;
  return true;
}

Napi::Value Queue(const Napi::CallbackInfo& info, const Job& job, const char* problem) {
  Napi::Env env = info.Env();
  if (problem) {
    Napi::TypeError::New(env, problem).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new PreprocessWorker(env, job, info);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value QueueTwoTap(const Napi::CallbackInfo& info, bool jpeg, const char* signature) {
  Napi::Env env = info.Env();
  Job job{};
  size_t p = 0;
  Napi::TypedArray table, out;
  Napi::Int32Array xTaps, xWeights, yRows, yWeights;
  if (info.Length() != (jpeg ? 10u : 8u) || !ParseCommon(info, jpeg, &job, &p, &table, &out) ||
      !TypedOf(info[p], napi_int32_array, &xTaps) ||
      !TypedOf(info[p + 1], napi_int32_array, &xWeights) ||
      !TypedOf(info[p + 2], napi_int32_array, &yRows) ||
      !TypedOf(info[p + 3], napi_int32_array, &yWeights)) {
    Napi::TypeError::New(env, signature).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  job.xTaps = xTaps.Data();
  job.xWeights = xWeights.Data();
  job.yRows = yRows.Data();
  job.yWeights = yWeights.Data();
  const char* problem = CheckGeometry(job, table.ElementLength(), out.ElementLength());
  if (!problem) {
    problem = CheckTwoTap(job, xTaps.ElementLength(), xWeights.ElementLength(),
                          yRows.ElementLength(), yWeights.ElementLength());
  }
  return Queue(info, job, problem);
}

Napi::Value QueueArea(const Napi::CallbackInfo& info, bool jpeg, const char* signature) {
  Napi::Env env = info.Env();
  Job job{};
  size_t p = 0;
  Napi::TypedArray table, out;
  Napi::Int32Array xTaps, yTab;
  Napi::Float32Array xAlpha, yAlpha, finish;
  if (info.Length() != (jpeg ? 11u : 9u) || !ParseCommon(info, jpeg, &job, &p, &table, &out) ||
      !TypedOf(info[p], napi_int32_array, &xTaps) ||
      !TypedOf(info[p + 1], napi_float32_array, &xAlpha) ||
      !TypedOf(info[p + 2], napi_int32_array, &yTab) ||
      !TypedOf(info[p + 3], napi_float32_array, &yAlpha) ||
      !TypedOf(info[p + 4], napi_float32_array, &finish) || finish.ElementLength() != 2 ||
      xTaps.ElementLength() != xAlpha.ElementLength() ||
      xAlpha.ElementLength() % static_cast<size_t>(std::max(job.g[kResizeWidth], 1)) != 0 ||
      yTab.ElementLength() != 2 * yAlpha.ElementLength()) {
    Napi::TypeError::New(env, signature).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  job.areaTaps = xTaps.Data();
  job.areaAlpha = xAlpha.Data();
  job.areaPer = xAlpha.ElementLength() / static_cast<size_t>(std::max(job.g[kResizeWidth], 1));
  job.yTab = yTab.Data();
  job.yAlpha = yAlpha.Data();
  job.yCount = yAlpha.ElementLength();
  job.finishMode = static_cast<int>(finish[0]);
  job.finishInv = finish[1];
  const char* problem = CheckGeometry(job, table.ElementLength(), out.ElementLength());
  if (!problem) problem = CheckArea(job);
  return Queue(info, job, problem);
}

}  // namespace

// cvPreprocessJpeg(bytes: Uint8Array, grey: boolean, maxPixels: number, geometry: Int32Array,
//   xTaps, xWeights, yRows, yWeights: Int32Array, table, out: Float32Array | Int8Array |
//   Uint8Array (the same type)): Promise<boolean>; false: declined, out may be partly written.
Napi::Value CvPreprocessJpeg(const Napi::CallbackInfo& info) {
  return QueueTwoTap(info, true,
                     "cvPreprocessJpeg(bytes, grey, maxPixels, geometry, xTaps, xWeights, yRows, "
                     "yWeights, table, out)");
}

// cvPreprocessJpegArea(bytes, grey, maxPixels, geometry, xTaps: Int32Array, xAlpha: Float32Array,
//   yTab: Int32Array, yAlpha: Float32Array, finish: Float32Array [mode, inv], table, out):
//   Promise<boolean>, INTER_AREA shrinking (opencv-resize.ts: AreaPlan).
Napi::Value CvPreprocessJpegArea(const Napi::CallbackInfo& info) {
  return QueueArea(info, true,
                   "cvPreprocessJpegArea(bytes, grey, maxPixels, geometry, xTaps, xAlpha, yTab, "
                   "yAlpha, finish, table, out)");
}

// cvPreprocessPixels(pixels: Uint8Array (geometry's source, rows of width x channels bytes),
//   geometry, xTaps, xWeights, yRows, yWeights, table, out): the same pass on decoded pixels, for
//   what the JPEG pass declines (PNG, WebP, rotated or colour-managed JPEGs). Resolves true.
Napi::Value CvPreprocessPixels(const Napi::CallbackInfo& info) {
  return QueueTwoTap(info, false,
                     "cvPreprocessPixels(pixels, geometry, xTaps, xWeights, yRows, yWeights, "
                     "table, out)");
}

// cvPreprocessPixelsArea(pixels, geometry, xTaps, xAlpha, yTab, yAlpha, finish, table, out).
Napi::Value CvPreprocessPixelsArea(const Napi::CallbackInfo& info) {
  return QueueArea(info, false,
                   "cvPreprocessPixelsArea(pixels, geometry, xTaps, xAlpha, yTab, yAlpha, "
                   "finish, table, out)");
}

// jpegHeader(bytes: Uint8Array): { width, height, components } | null (not a JPEG libjpeg
// reads). Only the markers up to the first scan are parsed, so it runs on the calling thread.
Napi::Value JpegHeader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array bytes;
  if (info.Length() != 1 || !TypedOf(info[0], napi_uint8_array, &bytes)) {
    Napi::TypeError::New(env, "jpegHeader(bytes: Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  JpegInitErrors(&cinfo, &err);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return env.Null();
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.Data(), static_cast<unsigned long>(bytes.ElementLength()));
  const bool read = jpeg_read_header(&cinfo, TRUE) == JPEG_HEADER_OK;
  const double width = cinfo.image_width, height = cinfo.image_height;
  const double components = cinfo.num_components;
  jpeg_destroy_decompress(&cinfo);
  if (!read) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("width", Napi::Number::New(env, width));
  result.Set("height", Napi::Number::New(env, height));
  result.Set("components", Napi::Number::New(env, components));
  return result;
}

}  // namespace bmfleet
