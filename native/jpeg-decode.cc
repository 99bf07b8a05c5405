// JPEG decoding with the system libjpeg(-turbo), the library Debian's OpenCV decodes with, for
// the OpenCV-compatible preprocessing (shared/preprocess/native.ts). It does what cv2.imread does
// and nothing more: islow IDCT, fancy upsampling, no colour management, RGB out (or the luma the
// file stores, as IMREAD_GRAYSCALE asks libjpeg for). Anything it does not handle the same way
// (CMYK/YCCK files, any libjpeg warning such as a truncated file, images over the pixel limit)
// returns null and the caller decodes with sharp instead, which also reports the typed errors.
// Built only when jpeglib.h is present (binding.gyp); otherwise decodeJpeg is absent.
#include <napi.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>

#include <jpeglib.h>

namespace bmfleet {

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};

void OnError(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<ErrorManager*>(cinfo->err)->jump, 1);
}

void OnMessage(j_common_ptr cinfo, int level) {
  if (level < 0) cinfo->err->num_warnings++;  // counted, not printed
}

}  // namespace

// decodeJpeg(bytes: Uint8Array, grey: boolean, maxPixels: number):
//   { data: Uint8Array, width, height, channels: 1 | 3 } | null
Napi::Value DecodeJpeg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !info[1].IsBoolean() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "decodeJpeg(bytes: Uint8Array, grey: boolean, maxPixels: number)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto bytes = info[0].As<Napi::Uint8Array>();
  const bool grey = info[1].As<Napi::Boolean>().Value();
  const double maxPixels = info[2].As<Napi::Number>().DoubleValue();

  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = OnError;
  err.pub.emit_message = OnMessage;
  // Declared before setjmp so a longjmp back here leaves nothing to destroy but cinfo.
  Napi::Uint8Array out;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return env.Null();
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.Data(), static_cast<unsigned long>(bytes.ElementLength()));
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK || cinfo.num_components == 4 ||
      (cinfo.num_components != 1 && cinfo.num_components != 3) ||
      static_cast<double>(cinfo.image_width) * cinfo.image_height > maxPixels) {
    jpeg_destroy_decompress(&cinfo);
    return env.Null();
  }
  const bool greyOut = grey || cinfo.num_components == 1;
  cinfo.out_color_space = greyOut ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t width = cinfo.output_width;
  const size_t height = cinfo.output_height;
  const size_t channels = static_cast<size_t>(cinfo.output_components);
  const size_t stride = width * channels;
  out = Napi::Uint8Array::New(env, stride * height);
  uint8_t* data = out.Data();
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = data + static_cast<size_t>(cinfo.output_scanline) * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  const long warnings = err.pub.num_warnings;
  jpeg_destroy_decompress(&cinfo);
  if (warnings > 0) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", out);
  result.Set("width", Napi::Number::New(env, static_cast<double>(width)));
  result.Set("height", Napi::Number::New(env, static_cast<double>(height)));
  result.Set("channels", Napi::Number::New(env, static_cast<double>(channels)));
  return result;
}

}  // namespace bmfleet
