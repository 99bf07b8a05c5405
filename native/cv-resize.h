// The two row kernels of OpenCV's fixed-point INTER_LINEAR (resize.cpp: HResizeLinear<uchar>,
// VResizeLinear<uchar>), shared by cvLinearResize (cv-resize.cc) and the fused JPEG pass
// (cv-preprocess-jpeg.cc).
#pragma once

#include <cstdint>

namespace bmfleet {

// into[dx * cn + c] = row[taps[2dx] + c] * w[2dx] + row[taps[2dx + 1] + c] * w[2dx + 1] for
// dx in [0, dw); taps are element offsets into the row.
void CvHorizontalRow(const uint8_t* row, const int32_t* taps, const int32_t* w, int dw, int cn,
                     int32_t* into);

// Weights as linearTable in opencv-resize.ts makes them (each in [0, 2048], INTER_RESIZE_COEF_SCALE;
// a column's pair sums to about 2048), the range CvVerticalRow's 16-bit arithmetic relies on.
bool CvWeightsFit(const int32_t* xw, const int32_t* yw, int64_t dw, int64_t dh);

// out[i] = (((b0 * (a[i] >> 4)) >> 16) + ((b1 * (b[i] >> 4)) >> 16) + 2) >> 2, i in [0, n).
void CvVerticalRow(const int32_t* a, const int32_t* b, int32_t b0, int32_t b1, int n,
                   uint8_t* out);

}  // namespace bmfleet
