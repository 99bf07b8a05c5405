// The libjpeg setup that cv2.imread's decoder uses (islow IDCT, fancy upsampling: libjpeg's
// defaults), shared by the plain decode (jpeg-decode.cc) and the fused decode-resize-layout pass
// (cv-preprocess-jpeg.cc). Errors longjmp back to the caller's setjmp; warnings (a truncated
// file, a corrupt marker) are counted, not printed, so the caller can decline such files.
#pragma once

#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include <jpeglib.h>

namespace bmfleet {

struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};

inline void JpegOnError(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<JpegErrorManager*>(cinfo->err)->jump, 1);
}

inline void JpegOnMessage(j_common_ptr cinfo, int level) {
  if (level < 0) cinfo->err->num_warnings++;
}

inline void JpegInitErrors(jpeg_decompress_struct* cinfo, JpegErrorManager* err) {
  cinfo->err = jpeg_std_error(&err->pub);
  err->pub.error_exit = JpegOnError;
  err->pub.emit_message = JpegOnMessage;
}

// After jpeg_read_header: whether this decoder reproduces cv2.imread for the file (1 or 3
// components; CMYK/YCCK go through sharp) within the pixel limit. Sets the output colour space:
// the luma libjpeg stores when grey is asked (IMREAD_GRAYSCALE) or the file is grey, else RGB.
inline bool JpegPrepareOutput(jpeg_decompress_struct* cinfo, bool grey, double maxPixels) {
  if ((cinfo->num_components != 1 && cinfo->num_components != 3) ||
      static_cast<double>(cinfo->image_width) * cinfo->image_height > maxPixels) {
    return false;
  }
  cinfo->out_color_space = grey || cinfo->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  return true;
}

}  // namespace bmfleet
