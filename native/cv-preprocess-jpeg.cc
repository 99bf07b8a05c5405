// cv2.imread + cv2.resize(INTER_LINEAR) + the tensor layout for one JPEG in a single pass on a
// libuv worker (shared/preprocess/opencv-jpeg.ts). Each scanline libjpeg hands back goes
// through the horizontal taps at once if an output row needs it; an output row is finished as
// soon as its second source row has arrived and is written straight into the tensor through the
// per-channel value table. So the full-size image is never stored (one row of it is, plus two
// rows of taps), nothing is copied back to JavaScript, and no work is left for the main thread.
// Same libjpeg settings as jpeg-decode.cc and the same integer kernels as cv-resize.cc, so the
// bytes equal the decode-then-resize path's; a file it declines (see jpeg-reader.h) resolves
// false and the caller takes that path instead.
#include <napi.h>

#include <cstdint>
#include <vector>

#include "cv-resize.h"
#include "jpeg-reader.h"

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
  const uint8_t* bytes;
  size_t length;
  bool grey;
  double maxPixels;
  int32_t g[kGeometryLength];
  const int32_t* xTaps;
  const int32_t* xWeights;
  const int32_t* yRows;
  const int32_t* yWeights;
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

// False: libjpeg declined the file or warned about it; the caller decodes the other way.
bool Run(const Job& job) {
  const int32_t* g = job.g;
  const int sw = g[kSrcWidth], sh = g[kSrcHeight], cn = g[kSrcChannels];
  const int width = g[kWindowWidth];
  const int64_t y0 = g[kWindowSrcY], y1 = int64_t{g[kWindowSrcY]} + g[kWindowHeight];
  // Source rows a written output row needs, and the horizontal results of the last two.
  std::vector<uint8_t> needed(static_cast<size_t>(sh), 0);
  for (int64_t dy = y0; dy < y1; dy++) {
    needed[static_cast<size_t>(job.yRows[2 * dy])] = 1;
    needed[static_cast<size_t>(job.yRows[2 * dy + 1])] = 1;
  }
  const size_t rowLen = static_cast<size_t>(width) * static_cast<size_t>(cn);
  std::vector<uint8_t> scanline(static_cast<size_t>(sw) * static_cast<size_t>(cn));
  std::vector<int32_t> slot0(rowLen), slot1(rowLen);
  int32_t* slots[2] = {slot0.data(), slot1.data()};
  int64_t tags[2] = {-1, -1};
  std::vector<uint8_t> resized(rowLen);
  const int32_t* taps = job.xTaps + 2 * int64_t{g[kWindowSrcX]};
  const int32_t* weights = job.xWeights + 2 * int64_t{g[kWindowSrcX]};
  auto write = job.elementSize == 4 ? WriteRow<uint32_t> : WriteRow<uint8_t>;

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
  int64_t dy = y0;
  bool inOrder = true;
  while (cinfo.output_scanline < cinfo.output_height) {
    const int64_t r = cinfo.output_scanline;
    JSAMPROW row = scanline.data();
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (!needed[static_cast<size_t>(r)]) continue;
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
  }
  jpeg_finish_decompress(&cinfo);
  const long warnings = err.pub.num_warnings;
  jpeg_destroy_decompress(&cinfo);
  return warnings == 0 && inOrder && dy == y1;
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
const char* CheckPlan(const Job& job, size_t xTaps, size_t xWeights, size_t yRows,
                      size_t yWeights, size_t table, size_t out) {
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
  if (static_cast<int64_t>(out) != W * H * C || static_cast<int64_t>(table) < C * 256 ||
      static_cast<int64_t>(xTaps) != 2 * dw || static_cast<int64_t>(xWeights) != 2 * dw ||
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

}  // namespace

// cvPreprocessJpeg(bytes: Uint8Array, grey: boolean, maxPixels: number, geometry: Int32Array,
//   xTaps, xWeights, yRows, yWeights: Int32Array, table, out: Float32Array | Int8Array |
//   Uint8Array (the same type)): Promise<boolean>; false: declined, out may be partly written.
Napi::Value CvPreprocessJpeg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array bytes;
  Napi::Int32Array geometry, xTaps, xWeights, yRows, yWeights;
  bool ok = info.Length() == 10 && TypedOf(info[0], napi_uint8_array, &bytes) &&
            info[1].IsBoolean() && info[2].IsNumber() &&
            TypedOf(info[3], napi_int32_array, &geometry) &&
            geometry.ElementLength() == kGeometryLength &&
            TypedOf(info[4], napi_int32_array, &xTaps) &&
            TypedOf(info[5], napi_int32_array, &xWeights) &&
            TypedOf(info[6], napi_int32_array, &yRows) &&
            TypedOf(info[7], napi_int32_array, &yWeights) && info[8].IsTypedArray() &&
            info[9].IsTypedArray();
  Napi::TypedArray table, out;
  if (ok) {
    table = info[8].As<Napi::TypedArray>();
    out = info[9].As<Napi::TypedArray>();
    const napi_typedarray_type type = out.TypedArrayType();
    ok = table.TypedArrayType() == type &&
         (type == napi_float32_array || type == napi_int8_array || type == napi_uint8_array);
  }
  if (!ok) {
    Napi::TypeError::New(env,
                         "cvPreprocessJpeg(bytes, grey, maxPixels, geometry, xTaps, xWeights, "
                         "yRows, yWeights, table, out)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Job job{};
  job.bytes = bytes.Data();
  job.length = bytes.ElementLength();
  job.grey = info[1].As<Napi::Boolean>().Value();
  job.maxPixels = info[2].As<Napi::Number>().DoubleValue();
  for (size_t i = 0; i < kGeometryLength; i++) job.g[i] = geometry[i];
  job.xTaps = xTaps.Data();
  job.xWeights = xWeights.Data();
  job.yRows = yRows.Data();
  job.yWeights = yWeights.Data();
  job.elementSize = out.TypedArrayType() == napi_float32_array ? 4 : 1;
  job.table = static_cast<const uint8_t*>(table.ArrayBuffer().Data()) + table.ByteOffset();
  job.out = static_cast<uint8_t*>(out.ArrayBuffer().Data()) + out.ByteOffset();
  const char* problem = CheckPlan(job, xTaps.ElementLength(), xWeights.ElementLength(),
                                  yRows.ElementLength(), yWeights.ElementLength(),
                                  table.ElementLength(), out.ElementLength());
  if (problem) {
    Napi::TypeError::New(env, problem).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new PreprocessWorker(env, job, info);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
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
