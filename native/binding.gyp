{
  "variables": {
    "with_jpeg%": "<!(test -f /usr/include/jpeglib.h && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "bmfleet_native",
      "sources": ["histogram.cc", "cv-resize.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-std=c++17", "-ffp-contract=off"],
      "cflags_cc!": ["-fno-exceptions"],
      "conditions": [
        [
          "with_jpeg==1",
          {
            "sources": ["jpeg-decode.cc", "cv-preprocess-jpeg.cc"],
            "defines": ["BMFLEET_WITH_JPEG"],
            "libraries": ["-ljpeg"]
          }
        ]
      ]
    }
  ]
}
