// JPEG decoding with the system libjpeg(-turbo), the library Debian's OpenCV decodes with, for
// the OpenCV-compatible preprocessing (shared/preprocess/decode.ts). It does what cv2.imread does
// and nothing more: islow IDCT, fancy upsampling, no colour management, RGB out (or the luma the
// file stores, as IMREAD_GRAYSCALE asks libjpeg for). Anything it does not handle the same way
// (CMYK/YCCK files, any libjpeg warning such as a truncated file, images over the pixel limit)
// returns null and the caller decodes with sharp instead, which also reports the typed errors.
// Built only when jpeglib.h is present (binding.gyp); otherwise decodeJpeg is absent.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "jpeg-reader.h"

namespace bmfleet {

namespace {

struct Decoded {
  std::vector<uint8_t> pixels;
  size_t width = 0, height = 0, channels = 0;
};

// Pure decode, no JavaScript objects touched (it runs on a libuv worker thread). False: the
// caller falls back to sharp.
bool Decode(const uint8_t* bytes, size_t length, bool grey, double maxPixels, Decoded* out) {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  JpegInitErrors(&cinfo, &err);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(length));
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK ||
      !JpegPrepareOutput(&cinfo, grey, maxPixels)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  out->width = cinfo.output_width;
  out->height = cinfo.output_height;
  out->channels = static_cast<size_t>(cinfo.output_components);
  const size_t stride = out->width * out->channels;
  out->pixels.resize(stride * out->height);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + static_cast<size_t>(cinfo.output_scanline) * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  const long warnings = err.pub.num_warnings;
  jpeg_destroy_decompress(&cinfo);
  return warnings == 0;
}

class DecodeWorker : public Napi::AsyncWorker {
 public:
  DecodeWorker(Napi::Env env, Napi::Uint8Array bytes, bool grey, double maxPixels)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        bytes_(Napi::Persistent(bytes)),
        data_(bytes.Data()),
        length_(bytes.ElementLength()),
        grey_(grey),
        maxPixels_(maxPixels) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { ok_ = Decode(data_, length_, grey_, maxPixels_, &decoded_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (!ok_) {
      deferred_.Resolve(env.Null());
      return;
    }
    auto data = Napi::Uint8Array::New(env, decoded_.pixels.size());
    std::copy(decoded_.pixels.begin(), decoded_.pixels.end(), data.Data());
    Napi::Object result = Napi::Object::New(env);
    result.Set("data", data);
    result.Set("width", Napi::Number::New(env, static_cast<double>(decoded_.width)));
    result.Set("height", Napi::Number::New(env, static_cast<double>(decoded_.height)));
    result.Set("channels", Napi::Number::New(env, static_cast<double>(decoded_.channels)));
    deferred_.Resolve(result);
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> bytes_;  // keeps the input alive while Execute reads it
  const uint8_t* data_;
  size_t length_;
  bool grey_;
  double maxPixels_;
  bool ok_ = false;
  Decoded decoded_;
};

}  // namespace

// decodeJpeg(bytes: Uint8Array, grey: boolean, maxPixels: number):
//   Promise<{ data: Uint8Array, width, height, channels: 1 | 3 } | null>, decoded off the
//   JavaScript thread like sharp's work.
Napi::Value DecodeJpeg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !info[1].IsBoolean() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "decodeJpeg(bytes: Uint8Array, grey: boolean, maxPixels: number)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new DecodeWorker(env, info[0].As<Napi::Uint8Array>(),
                                  info[1].As<Napi::Boolean>().Value(),
                                  info[2].As<Napi::Number>().DoubleValue());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace bmfleet
